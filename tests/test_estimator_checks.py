"""CbRClassifier against scikit-learn's whole estimator contract (``check_estimator``)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from cbr_edu import CbRClassifier


@parametrize_with_checks([CbRClassifier(), CbRClassifier(aggregation="mean"),
                          CbRClassifier(aggregation="topk_mean", k=2)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
