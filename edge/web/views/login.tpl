<h1>Sign in</h1>
% if message:
<p class="refused">{{message}}</p>
% end
<form method="post" action="/login">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Token <input type="password" name="token" autofocus></label>
  <button>Sign in</button>
</form>
