"""The stress index (one number for the five forces, point in time) and its episodes (the past
instants most like T, and what came next). `components` defines the measures, `index` computes
them set-based over a calendar of instants, `episodes` finds the nearest past instants."""
