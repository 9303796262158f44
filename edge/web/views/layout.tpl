<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>siamface · {{camera}}</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/site.js" defer></script>
</head>
<body data-view="{{view}}">
<nav>
  <strong>siamface · {{camera}}</strong>
  % for page, label in (("live", "Live"), ("events", "Events"), ("visitors", "Visitors"), ("people", "People")):
  <a href="/{{page}}" class="{{'here' if page == view else ''}}">{{label}}</a>
  % end
</nav>
<main>
{{!body}}
</main>
</body>
</html>
