// Keyboard shortcuts for the review queue. Everything works without them (plain forms); this
// file only presses the buttons and boxes an analyst would click. Served from the app itself
// (Content-Security-Policy: script-src 'self'); it reads no data and sends nothing of its own.
(function () {
  "use strict";
  const items = Array.from(document.querySelectorAll(".item"));
  const keys = document.getElementById("keys");
  let current = items.findIndex((item) => !item.classList.contains("accept") && !item.classList.contains("reject"));
  if (current < 0) current = 0;

  function select(index) {
    if (!items.length) return;
    items.forEach((item) => item.classList.remove("current"));
    current = Math.max(0, Math.min(items.length - 1, index));
    items[current].classList.add("current");
    items[current].scrollIntoView({ block: "nearest" });
  }

  function press(name) {
    const scope = name === "undo" ? document : items[current];
    const target = scope && scope.querySelector(`[data-key="${name}"]`);
    if (!target || target.closest("fieldset[disabled]")) return false;
    if (target.type === "checkbox") target.checked = !target.checked;
    else if (target.tagName === "INPUT") target.focus();
    else target.click();
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.matches("input:not([type=checkbox]), textarea, select");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      if (event.key === "Enter" && event.target.dataset.key === "comment") {
        event.preventDefault();
        press("save");
      }
      return;
    }
    const actions = { a: "accept", r: "reject", s: "save", c: "comment", u: "undo",
                      1: "1", 2: "2", 3: "3", 4: "4" };
    if (event.key === "?") {
      keys.hidden = !keys.hidden;
    } else if (event.key === "Escape") {
      keys.hidden = true;
    } else if (event.key === "j") {
      select(current + 1);
    } else if (event.key === "k") {
      select(current - 1);
    } else if (actions[event.key]) {
      if (!press(actions[event.key])) return;
    } else {
      return;
    }
    event.preventDefault();
  });

  select(current);
})();
