# ruff: noqa: E501 - HTML reads better a row per line
"""The admin pages' templates (Django template language), extending the admin's base."""

from __future__ import annotations

BASE = """{% extends "admin/base_site.html" %}
{% block extrastyle %}{{ block.super }}<style>
.accessgraph-filters label{margin-right:1em}
table.accessgraph-matrix td,table.accessgraph-audit td,table.accessgraph-review td{vertical-align:top}
tr.severity-high td:first-child{color:#ba2121;font-weight:bold}
tr.severity-medium td:first-child{color:#b36b00}
</style>{% endblock %}
{% block breadcrumbs %}<div class="breadcrumbs"><a href="{% url 'admin:index' %}">Home</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">accessgraph</a>
&rsaquo; {{ title }}</div>{% endblock %}
"""

PAGER = """<p class="paginator">{% if pages.previous %}<a href="?{{ pages.previous }}">&larr; previous</a> {% endif %}{{ pages.label }}{% if pages.next %} <a href="?{{ pages.next }}" class="next">next &rarr;</a>{% endif %}</p>"""

MATRIX = (
    """
{% block content %}<div id="content-main">
<form method="get" class="accessgraph-filters">
<label>Org <select name="org">{% for o in orgs %}<option{% if o == org %} selected{% endif %}>{{ o }}</option>{% endfor %}</select></label>
<label>User <input name="q" value="{{ q }}" placeholder="part of an email"></label>
<input type="submit" value="Show">
</form>
{% if org %}<p>{{ paginator.count }} member{{ paginator.count|pluralize }} of <strong>{{ org }}</strong>;
each cell is the effective project role and its source (hover for expiry and reason).</p>
<table class="accessgraph-matrix"><thead><tr><th>User</th><th>Org role</th>
{% for p in projects %}<th>{{ p }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.user }}{% if row.external %} <small>(external)</small>{% endif %}</td><td>{{ row.org_role }}{% if row.expires %} <small>until {{ row.expires }}</small>{% endif %}</td>
{% for cell in row.cells %}<td{% if cell %} title="{{ cell.title }}"{% endif %}>{% if cell %}{{ cell.role }} <small>({{ cell.source }})</small>{% if cell.expires %} <small>until {{ cell.expires }}</small>{% endif %}{% else %}&mdash;{% endif %}</td>{% endfor %}
</tr>{% empty %}<tr><td colspan="{{ projects|length|add:2 }}">No members match.</td></tr>{% endfor %}
</tbody></table>
"""
    + PAGER
    + """
{% else %}<p>The graph has no org.</p>{% endif %}
</div>{% endblock %}"""
)

AUDIT = """
{% block content %}<div id="content-main">
<form method="get" class="accessgraph-filters">
{% for name, label, value in fields %}<label>{{ label }} <input name="{{ name }}" value="{{ value }}"{% if name == "since" or name == "until" %} placeholder="YYYY-MM-DD"{% endif %}></label> {% endfor %}
<input type="submit" value="Filter"> <a href="?">Clear</a>
</form>
{% if problem %}<p class="errornote">{{ problem }}</p>{% endif %}
<p>Newest first. <code>action</code> takes a prefix ending in <code>*</code> (<code>member.*</code>);
<code>user</code> matches the actor or the user an event concerns; <code>until</code> is exclusive.</p>
<table class="accessgraph-audit"><thead><tr><th>seq</th><th>at (UTC)</th><th>actor</th><th>action</th><th>target</th><th>user</th><th>details</th></tr></thead><tbody>
{% for e in events %}<tr><td>{{ e.seq }}</td><td>{{ e.at }}</td><td>{{ e.actor }}</td><td>{{ e.action }}</td><td>{{ e.target }}</td><td>{{ e.user|default:"" }}</td><td><code>{{ e.details }}</code></td></tr>
{% empty %}<tr><td colspan="7">No events match.</td></tr>{% endfor %}
</tbody></table>
<p class="paginator">{% if newest %}<a href="?{{ newest }}">&larr; newest</a> {% endif %}{% if older %}<a href="?{{ older }}" class="older">older &rarr;</a>{% endif %}</p>
</div>{% endblock %}"""

REVIEW = (
    """
{% block content %}<div id="content-main">
<form method="get" class="accessgraph-filters">
<label>Org <select name="org"><option value="">every org</option>{% for o in orgs %}<option{% if o == org %} selected{% endif %}>{{ o }}</option>{% endfor %}</select></label>
<label>At least <select name="severity"><option value="">any severity</option>{% for s in severities %}<option{% if s == severity %} selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
<input type="submit" value="Review">
</form>
<p>{{ total }} finding{{ total|pluralize }}{% for s, n in counts %}{% if n %} &middot; {{ n }} {{ s }}{% endif %}{% endfor %}</p>
<table class="accessgraph-review"><thead><tr><th>severity</th><th>rule</th><th>org</th><th>user</th><th>target</th><th>finding</th><th>remediation</th></tr></thead><tbody>
{% for f in findings %}<tr class="severity-{{ f.severity }}"><td>{{ f.severity }}</td><td>{{ f.rule }}</td><td>{{ f.org|default:"" }}</td><td>{{ f.user|default:"" }}</td><td>{{ f.target|default:"" }}</td><td>{{ f.message }}</td><td>{{ f.remediation }}</td></tr>
{% empty %}<tr><td colspan="7">No findings.</td></tr>{% endfor %}
</tbody></table>
"""
    + PAGER
    + """
</div>{% endblock %}"""
)
