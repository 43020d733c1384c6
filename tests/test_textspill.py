"""TextSpill: semantic dedup's key texts wait on disk, read back by index, exactly as they were."""

import numpy as np
import pytest

from curate.dedup.textspill import TextSpill


def test_texts_come_back_exactly_by_index_slice_and_selection(tmp_path):
    spill = TextSpill(tmp_path / "t.utf8")
    texts = ["plain", "", "ünïcödé ✓ 𝔘", "lone \ud800 surrogate", "line\nbreak\x00nul"]
    spill.add(texts[:2])
    spill.add([])
    spill.add(texts[2:])
    assert len(spill) == 5
    assert list(spill) == texts and spill[-1] == texts[-1] and spill[1:4] == texts[1:4]
    view = spill.select(np.array([4, 0, 2]))
    assert len(view) == 3 and list(view) == [texts[4], texts[0], texts[2]] and view[0:2] == [texts[4], texts[0]]
    assert list(view.select(np.array([2, 0]))) == [texts[2], texts[4]]
    with pytest.raises(IndexError):
        spill[5]


def test_an_empty_spill_is_an_empty_sequence(tmp_path):
    spill = TextSpill(tmp_path / "t.utf8")
    spill.add(["", ""])
    assert list(spill) == ["", ""] and list(spill.select(np.zeros(0, dtype=np.int64))) == []
    assert list(TextSpill(tmp_path / "u.utf8")) == []
