"""Write cars.csv: the classic 406-car table that vega_datasets ships inside its wheel, as it comes.

Its columns are what a real table holds: a car's name (strings), six measurements with gaps
(8 missing Miles_per_Gallon, 6 missing Horsepower), the model year as a date, and the class to
predict, Origin (USA, Europe, Japan). Nothing is cleaned here: `suite init` takes it as it is.

Run: python examples/cars/make_data.py   (offline: pip install vega_datasets)
"""

from pathlib import Path


def main(out: Path = Path(__file__).with_name("cars.csv")) -> Path:
    from vega_datasets import data

    data.cars().to_csv(out, index=False)  # the bundled copy: no download
    return out


if __name__ == "__main__":
    print(f"wrote {main()}")
