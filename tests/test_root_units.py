"""reindex and check hand their forked workers units of about the same number of objects, however
many objects each top-level directory holds (issue 14: their memory must not grow with the root)."""

from __future__ import annotations

from pathlib import Path

from fcrctl.repository.local import ocfl, root_units


def _object(where: Path) -> None:
    where.mkdir(parents=True)
    (where / (ocfl.OBJECT_NAMASTE_PREFIX + "1.1")).write_text("ocfl_object_1.1\n")


def _root(tmp_path: Path, tops: int, subs: int) -> tuple[str, list[str]]:
    """``tops`` top-level directories of ``subs`` objects each, two levels down (as the 0004
    layout nests them), and one top that is an object itself."""
    root = tmp_path / "root"
    for t in range(tops):
        for s in range(subs):
            _object(root / f"t{t:02}" / f"s{s:02}" / f"obj{t}-{s}")
    _object(root / "zz-flat")
    return str(root), sorted(p.name for p in root.iterdir())


def _walked(root: str, units: list[list[str]]) -> list[list[str]]:
    return [[rel for unit_dir in unit for _, rel, _ in ocfl.object_dirs(f"{root}/{unit_dir}", unit_dir)]
            for unit in units]


def test_tops_of_many_objects_are_split_into_units_of_about_the_aim(tmp_path: Path) -> None:
    root, tops = _root(tmp_path, tops=4, subs=12)
    units = root_units.units(root, tops, objects=3)
    walked = _walked(root, units)
    whole = [rel for top in tops for _, rel, _ in ocfl.object_dirs(f"{root}/{top}", top)]
    assert [rel for unit in walked for rel in unit] == whole  # every object once, in the walk's order
    assert max(len(unit) for unit in walked) <= 3  # not a top's 12
    assert ["zz-flat"] in units  # a top that is an object stays whole


def test_tops_of_few_objects_are_grouped(tmp_path: Path) -> None:
    root, tops = _root(tmp_path, tops=12, subs=1)
    units = root_units.units(root, tops, objects=4)
    walked = _walked(root, units)
    assert [rel for unit in walked for rel in unit] == [
        rel for top in tops for _, rel, _ in ocfl.object_dirs(f"{root}/{top}", top)]
    assert len(units) == 4 and all(len(unit) == 4 for unit in walked[:-1])


def test_an_empty_root_has_no_units(tmp_path: Path) -> None:
    assert root_units.units(str(tmp_path), []) == []


def test_a_walk_that_lists_no_declared_object_finds_what_a_listing_walk_finds(tmp_path: Path) -> None:
    """reindex's walk stats an object's declaration instead of listing a directory named as the
    0004 layout names objects: the same objects in the same order, whatever the names."""
    root = tmp_path / "root"
    hashed = "a" * 64
    _object(root / "abc" / "def" / hashed)  # as the layout places it
    (root / "abc" / "def" / ("b" * 64) / "inner" / ("c" * 64)).mkdir(parents=True)  # 64 characters, no declaration
    _object(root / "abc" / "def" / ("b" * 64) / "inner" / ("c" * 64) / "deeper")  # ...an object below it
    old = root / "abd" / ("d" * 64)
    old.mkdir(parents=True)
    (old / (ocfl.OBJECT_NAMASTE_PREFIX + "1.0")).write_text("ocfl_object_1.0\n")  # an OCFL 1.0 object
    newer = root / "abe" / ("e" * 64)
    newer.mkdir(parents=True)
    (newer / (ocfl.OBJECT_NAMASTE_PREFIX + "1.2")).write_text("ocfl_object_1.2\n")  # found by its listing
    (root / "abf" / ("f" * 64) / "v1").mkdir(parents=True)  # an inventory but no declaration: not an object
    (root / "abf" / ("f" * 64) / "inventory.json").write_text("{}")
    _object(root / "short")
    for top in sorted(p.name for p in root.iterdir()):
        listed = [(obj, rel) for obj, rel, _ in ocfl.object_dirs(f"{root}/{top}", top)]
        stated = [(obj, rel) for obj, rel, _ in ocfl.object_dirs(f"{root}/{top}", top, listed=False)]
        assert stated == listed, top
    walked = [rel for top in sorted(p.name for p in root.iterdir())
              for _, rel, _ in ocfl.object_dirs(f"{root}/{top}", top, listed=False)]
    assert walked == [f"abc/def/{hashed}", f"abc/def/{'b' * 64}/inner/{'c' * 64}/deeper", f"abd/{'d' * 64}",
                      f"abe/{'e' * 64}", "short"]
