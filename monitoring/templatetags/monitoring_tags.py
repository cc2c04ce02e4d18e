from django import template

register = template.Library()


@register.filter
def seconds(value) -> str:
    """12.34 → "12.3 s"; 135 → "2 min 15 s"; None → "—"."""
    if value is None:
        return "—"
    value = round(float(value), 1)
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


@register.filter
def outcome(summary, name: str) -> int:
    return summary.outcomes.get(name, 0)
