// A file picker that sends files to Python one by one, in parts of at most 4 MB
// (an anywidget module). One big message for a folder of phone photos would pass
// the server's websocket limit; parts never do. The button says what it sends.

const PART = 4 * 1024 * 1024;

function render({ model, el }) {
  el.classList.add("cbr-picker");
  const input = document.createElement("input");
  input.type = "file";
  input.style.display = "none";
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button cbr-picker-button";
  function label() {
    input.accept = model.get("accept");
    input.multiple = model.get("multiple");
    button.textContent = model.get("label");
  }
  label();
  model.on("change:label", label);
  button.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const files = Array.from(input.files);
    input.value = "";
    if (!files.length) return;
    button.disabled = true;
    model.send({ event: "begin", count: files.length });
    for (let i = 0; i < files.length; i++) {
      button.textContent = "sending " + (i + 1) + "/" + files.length;
      const data = await files[i].arrayBuffer();
      const parts = Math.max(1, Math.ceil(data.byteLength / PART));
      for (let p = 0; p < parts; p++) {
        const message = { event: "part", index: i, name: files[i].name, part: p, parts: parts };
        model.send(message, undefined, [data.slice(p * PART, (p + 1) * PART)]);
      }
    }
    model.send({ event: "end", count: files.length });
    button.disabled = false;
    label();
  });
  el.append(button, input);
}

export default { render };
