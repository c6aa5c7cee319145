"""The QA history of the station: filtered list of past inspections, their details and the review actions."""
