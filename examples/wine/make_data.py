"""Write wine.csv: scikit-learn's bundled wine table (178 wines, 13 measurements), the cultivar by name.

Run: python examples/wine/make_data.py   (offline: the table ships inside scikit-learn)
"""

from pathlib import Path

from sklearn.datasets import load_wine


def main(out: Path = Path(__file__).with_name("wine.csv")) -> Path:
    table = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    table["cultivar"] = table["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    table.to_csv(out, index=False)
    return out


if __name__ == "__main__":
    print(f"wrote {main()}")
