<h1>People</h1>
% if not people:
<p class="quiet">Nobody is enrolled.</p>
% end
<ul class="cards">
% for name, photos, ours, learned in people:
  <li class="card person">
    <div class="crops">
    % for stem in ours:
      <img src="/photo/{{stem}}" alt="{{name}}">
    % end
    </div>
    <div>
      <b>{{name}}</b>
      <br><span class="quiet">{{len(photos)}} photo{{'' if len(photos) == 1 else 's'}}, {{learned}} learned from the camera</span>
      % for photo in photos:
      % if photo.rsplit('/', 1)[-1].removesuffix('.jpg') not in ours:
      <br><span class="quiet path">{{photo}}</span>
      % end
      % end
      <form method="post" action="/people/remove" data-confirm="Remove {{name}} from the gallery?">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="name" value="{{name}}">
        <button>Remove</button>
      </form>
    </div>
  </li>
% end
</ul>
