"""Pipeline pieces with hand-computed expectations: FunASR's duration batching and VAD text joining."""

from funasr_lite.pipeline import duration_batches, join_vad_texts


def test_duration_batches_follow_funasr_rule() -> None:
    # sorted by duration: idx 3 (1000), 1 (2000), 0 (3000), 2 (70000)
    d = [3000, 2000, 70000, 1000]
    # budget 6000 ms: j=0 len 1000 -> potential 1000 < 6000 continue; j=1 len 2000 -> 2000*2=4000 continue;
    # j=2 len 3000 -> 3000*3=9000 >= 6000 -> flush [3,1,0] (including j); j=3 last -> flush [2]
    assert duration_batches(d, 6000, 60000) == [[3, 1, 0], [2]]
    # a segment at/over the threshold closes the batch it joins
    assert duration_batches([1000, 60000, 500], 300000, 60000) == [[2, 0, 1]]
    # the budget is raised to at least the shortest segment; budget 0 -> the batch closes at every segment
    assert duration_batches([5, 6, 7], 0, 60000) == [[0], [1], [2]]
    assert duration_batches([], 1000, 1000) == []


def test_join_vad_texts() -> None:
    assert join_vad_texts(["欢 迎 大 家", "你 好 吗"]) == "欢 迎 大 家你 好 吗"
    assert join_vad_texts(["hello", "你 好", " ", "ok"]) == "hello 你 好 ok"
    assert join_vad_texts(["", "  "]) == ""
