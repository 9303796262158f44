<p class="{{'ok' if ok else 'refused'}}" id="message">{{message}}</p>
<p><a href="{{back}}">Back</a></p>
