// A download link for a file in the kernel's folder (an anywidget module).
// A click asks Python for the bytes; they arrive as a binary buffer and are
// saved by the browser under the file's name. It works wherever the widget
// shows (JupyterLab, Notebook, VS Code, Colab): no server URL is needed.

function render({ model, el }) {
  el.classList.add("cbr-download");
  const link = document.createElement("a");
  link.href = "#";
  link.className = "cbr-download-link";
  link.textContent = model.get("label");
  model.on("change:label", () => {
    link.textContent = model.get("label");
  });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    link.classList.add("cbr-download-busy");
    model.send({ event: "fetch" });
  });
  function received(message, buffers) {
    if (!message || message.event !== "file") return;
    link.classList.remove("cbr-download-busy");
    const blob = new Blob(buffers, { type: "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    const save = document.createElement("a");
    save.href = url;
    save.download = message.filename;
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  model.on("msg:custom", received);
  el.append(link);
  return () => model.off("msg:custom", received);
}

export default { render };
