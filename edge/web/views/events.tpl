<h1>Events</h1>
% if not events:
<p class="quiet">No events since the loop started.</p>
% end
<ul class="cards">
% for e in events:
  <li class="card {{e.kind}}" id="event-{{e.id}}">
    % if e.crop:
    <img src="/crop/{{e.crop}}" alt="face of track {{e.track}}">
    % end
    <div>
      <b>{{e.name}}</b> {{e.kind}}
      % if e.visitor:
      <a href="/visitors#{{e.visitor}}">{{e.visitor}}</a>
      % end
      <br><span class="quiet">{{e.time[11:19]}} · track {{e.track}} · score {{'%.2f' % e.score}}</span>
      % if e.corrected:
      <br><em>{{e.corrected}}</em>
      % elif e.template is not None:
      <form method="post" action="/events/{{e.id}}/wrong">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button title="this was not {{e.name}}">Wrong</button>
      </form>
      % end
    </div>
  </li>
% end
</ul>
