<h1>Visitors</h1>
<p class="quiet">Faces the camera did not know, grouped: someone who comes back keeps their number.</p>
% if not visitors:
<p class="quiet">No visitors yet.</p>
% end
<ul class="cards">
% for v, shown in visitors:
  <li class="card visitor" id="{{v.id}}">
    <div class="crops">
    % for crop in shown:
      <img src="/crop/{{crop}}" alt="{{v.id}}">
    % end
    </div>
    <div>
      <b>{{v.id}}</b> · {{v.visits}} visit{{'' if v.visits == 1 else 's'}}
      <br><span class="quiet">first {{v.first_seen[:16].replace('T', ' ')}} · last {{v.last_seen[:16].replace('T', ' ')}}</span>
      <form method="post" action="/visitors/{{v.id}}/name">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>This is <input name="name" required maxlength="64" placeholder="name"></label>
        <button>Enrol</button>
      </form>
      <form method="post" action="/visitors/{{v.id}}/forget" data-confirm="Forget {{v.id}} and delete their crops?">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button class="quiet">Forget</button>
      </form>
    </div>
  </li>
% end
</ul>
