<h1>Live</h1>
<img id="live" src="/live.jpg" alt="the camera, with the faces it sees" data-every="{{live_ms}}">
<table id="tracks">
  <thead><tr><th>Track</th><th>Name</th><th>Score</th></tr></thead>
  <tbody></tbody>
</table>
<p class="quiet" id="nothing">Nobody in view.</p>
