"""The instructor edition: every notebook run with its solutions, as web pages.

``python -m cbr_edu.instructor`` (``make instructor``) executes the notebooks with the
solutions filled in — the same execution the notebook tests run (:mod:`.execute`) — and
writes ``out/instructor/<notebook>.html`` plus ``index.html`` (:mod:`.render`); a widget
shows the last picture it drew (:mod:`.widget_pictures`) and formulas are MathML, so the
pages need no network (:mod:`.offline_html`).
"""
