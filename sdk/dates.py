"""Calendar arithmetic the law uses: 'one month after', 'three years from'."""

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    """Same day `years` later; 29 February becomes 28 February, the earlier and so safer end."""
    return add_months(day, 12 * years)
