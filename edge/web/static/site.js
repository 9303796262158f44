// A change that cannot be undone is asked about first.
document.addEventListener("submit", (event) => {
  const ask = event.target.dataset.confirm;
  if (ask && !window.confirm(ask)) event.preventDefault();
});

// The live page: a new picture and the current tracks a few times a second, while it is open.
"use strict";
(function () {
  const image = document.getElementById("live");
  if (!image) return;
  const every = Number(image.dataset.every) || 500;
  const rows = document.querySelector("#tracks tbody");
  const nothing = document.getElementById("nothing");
  let shown = -1;
  async function tick() {
    try {
      const reply = await fetch("/api/live", { cache: "no-store" });
      const live = await reply.json();
      if (live.frame !== shown) {
        shown = live.frame;
        image.src = "/live.jpg?frame=" + live.frame;
      }
      rows.replaceChildren(...live.tracks.map((t) => {
        const row = document.createElement("tr");
        for (const value of [t.track, t.name, t.score.toFixed(2)]) {
          const cell = document.createElement("td");
          cell.textContent = value;
          row.append(cell);
        }
        return row;
      }));
      nothing.hidden = live.tracks.length > 0;
    } catch (error) {
      // the loop restarting: try again at the next tick
    }
    setTimeout(tick, every);
  }
  tick();
})();
