"""Statistics of the station: yield over time and the score distribution against the decision threshold."""
