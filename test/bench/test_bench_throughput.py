"""The throughput benchmark's parts: every variant trains on the shared batch, and the
CPU memory tracker and FLOP counter see real work (the benchmark itself is not timed here)."""

import sys

import pytest
import torch

from espnet_trinet.encoders.layerwise import embed_frames

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from measure import PeakTensorMemory, count_flops, time_interleaved  # noqa: E402
from step_variants import SIZES, VARIANTS, baseline, build_variant, make_audio, variant_spec, variants  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    speech, lengths = make_audio(2, 1.5)
    tmp = tmp_path_factory.mktemp("bench")
    return {name: build_variant(name, SIZES["tiny"], speech, lengths, torch.device("cpu"), tmp) for name in VARIANTS}


def test_the_variants_come_from_the_method_configs():
    # The methods' configs: data2vec has no frozen teacher, TriNet's frozen_asr target gives two modes.
    assert VARIANTS == ("espnet_hubert", "data2vec", "trinet_online", "trinet_offline", "mt4ssl", "dinosr",
                        "data2vec2", "data2vec2_m1", "data2vec2_m8",
                        "trinet2_online", "trinet2_offline", "trinet2_offline_m1", "trinet2_offline_m8", "d2v_aqc")
    assert variants(["trinet"]) == ("espnet_hubert", "trinet_online", "trinet_offline")
    # data2vec 2.0's student at the config's clone count (4) and at M = 1 and 8.
    assert variant_spec("trinet2_offline_m8") == ("trinet2", "offline")
    assert variant_spec("data2vec2_m1") == ("data2vec2", None)
    assert variant_spec("trinet_offline") == ("trinet", "offline") and variant_spec("data2vec") == ("data2vec", None)
    assert baseline(VARIANTS) == "data2vec"
    with pytest.raises(ValueError, match="unknown variant data2vec_online"):
        variant_spec("data2vec_online")
    with pytest.raises(ValueError, match="no variant of a method without a frozen teacher"):
        baseline(["espnet_hubert", "trinet_online"])


@pytest.mark.slow
def test_every_variant_updates_its_weights(built):
    for name, v in built.items():
        before = {k: p.detach().clone() for k, p in v.model.named_parameters() if p.requires_grad}
        loss = v.train_step()
        assert loss == loss, name  # finite
        changed = sum(not torch.equal(before[k], p) for k, p in v.model.named_parameters() if p.requires_grad)
        assert changed > 0, name


@pytest.mark.slow
def test_trinet_steps_move_the_ema_teacher_and_offline_skips_the_frozen_teacher(built):
    online, offline = built["trinet_online"], built["trinet_offline"]
    assert int(online.model.num_updates) >= 1 and int(offline.model.num_updates) >= 1
    assert "frozen_targets" in offline.batch and "frozen_targets" not in online.batch
    assert online.model.targets["frozen"].mode == "online" and offline.model.targets["frozen"].mode == "offline"
    # The same model, and the same targets online and dumped.
    assert online.trainable_params == offline.trainable_params
    targets, lengths = online.model.targets["frozen"].teacher_targets(online.batch["speech"],
                                                                      online.batch["speech_lengths"])
    assert torch.equal(targets.float(), offline.batch["frozen_targets"])
    assert torch.equal(lengths, offline.batch["frozen_targets_lengths"])
    # The EMA teachers' targets are the top 2/3 of the blocks (2 of the tiny size's 4), as the paper's 8 of
    # 12 (DinoSR: one codebook for each of them).
    teachers = [s for n, v in built.items() if n != "espnet_hubert" for s in v.model.targets.values()
                if hasattr(s, "top_k")]
    assert len(teachers) == 13 and {s.top_k for s in teachers} == {2}
    # The offline step does less work than the online one: no teacher forward.
    assert count_flops(offline.train_step) < count_flops(online.train_step)


@pytest.mark.slow
def test_mt4ssl_reads_kmeans_labels_at_the_student_frames_and_dinosr_moves_its_codebooks(built):
    mt4ssl, dinosr = built["mt4ssl"], built["dinosr"]
    labels, lengths = mt4ssl.batch["labels"], mt4ssl.batch["labels_lengths"]
    _, _, masks = embed_frames(mt4ssl.model.encoder, *mt4ssl.model._features(mt4ssl.batch["speech"],
                                                                             mt4ssl.batch["speech_lengths"]))
    assert torch.equal(lengths, masks.sum(dim=(1, 2))) and labels.shape == (2, int(lengths.max()))
    assert 0 <= int(labels.min()) and int(labels.max()) < mt4ssl.model.targets["km"].output_dim
    source = next(s for s in dinosr.model.targets.values() if hasattr(s, "codebook_sums"))
    before = source.codebook_sums.clone()
    dinosr.train_step()
    assert not torch.equal(before, source.codebook_sums)


@pytest.mark.slow
def test_clone_variants_predict_more_masked_frames_per_step(built):
    """M clones: M masked copies of each utterance in one step; the counts the table's masked-frame
    rates use come from the student view of each step."""
    for name in ("data2vec2_m1", "data2vec2", "data2vec2_m8"):
        built[name].masked_per_step.clear()
        built[name].train_step()
    m1, m4, m8 = (built[n].masked_per_step[0] for n in ("data2vec2_m1", "data2vec2", "data2vec2_m8"))
    assert built["data2vec2_m8"].model.view.clones == 8 and built["data2vec2"].model.view.clones == 4
    assert 2 * m1 < m4 < m8  # ~44 % of the frames of every clone
    assert built["data2vec2"].trainable_params == built["data2vec2_m8"].trainable_params


@pytest.mark.slow
def test_d2v_aqc_reads_an_augmented_copy_and_its_kmeans_is_timed_apart(built, tmp_path):
    from throughput import _time_clusters

    aqc = built["d2v_aqc"]
    assert aqc.batch["speech_aug"].shape == aqc.batch["speech"].shape
    assert not torch.equal(aqc.batch["speech_aug"], aqc.batch["speech"])
    assert torch.equal(aqc.batch["speech_aug_lengths"], aqc.batch["speech_lengths"])
    seconds = _time_clusters(aqc.model)
    aqc.train_step()
    aqc.train_step()
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert _time_clusters(built["data2vec"].model) == []
    from step_variants import augmentation_cost

    speech, lengths = make_audio(2, 1.0)
    assert augmentation_cost("d2v_aqc", speech, lengths, tmp_path, repeats=1) > 0
    assert augmentation_cost("data2vec", speech, lengths, tmp_path) is None


def test_memory_tracker_counts_live_tensors_once():
    with PeakTensorMemory() as tracker:
        a = torch.zeros(1024, 256)  # 1 MiB
        view = a[:10]
        b = torch.ones(1024, 256)
        del a, view, b
        c = torch.zeros(512, 256)
    assert tracker.peak == 2 * 2**20
    assert tracker.live == 2**19 and c.numel() == 512 * 256


def test_interleaved_timing_gives_each_variant_its_rounds():
    calls = []
    times = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                             torch.device("cpu"), warmup=1, repeats=3)
    assert calls == ["a", "b"] * 4 and {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}


def test_the_table_compares_with_the_baseline_and_judges_each_frozen_mode():
    from throughput import markdown

    setup = dict(command="python bench/throughput.py --quick", date="today", device="cpu", dtype="fp32", threads=1,
                 batch=2, seconds=3.0, warmup=2, repeats=9, torch="x", matmul_tflops=float("nan"), baseline="data2vec",
                 augmentation_ms_per_audio_s={"d2v_aqc": 1.25})
    rows = [dict(size="tiny", variant=v, frozen_mode=mode, clones=clones, step_s=step, spread_s=0.01,
                 vs_data2vec=step / 0.2, audio_s_per_s=6 / step, audio_s_per_s_vs_data2vec=0.2 / step,
                 masked_per_s=masked / step, masked_per_s_vs_data2vec=(masked / step) / (100 / 0.2), peak_mem_mb=10,
                 tflop_per_step=0.003, mfu=float("nan"), trainable_m=1.0, kmeans_s=float("nan"))
            for v, mode, clones, step, masked in (("data2vec", None, None, 0.2, 100),
                                                  ("trinet_online", "online", None, 0.27, 100),
                                                  ("trinet_offline", "offline", None, 0.2, 100),
                                                  ("data2vec2_m1", None, 1, 0.125, 90),
                                                  ("data2vec2_m8", None, 8, 0.5, 700),
                                                  ("trinet2_offline_m8", "offline", 8, 0.5, 500),
                                                  ("trinet2_offline", "offline", 4, 0.4, 600))]
    text = markdown(dict(rows=rows, setup=setup))
    assert "| size | variant | step (s) | spread (s) | x data2vec | target | audio s / s | x data2vec |" in text
    assert "| tiny | data2vec | 0.200 | 0.010 | 1.00 |  | 30.0 | 1.00 | 500 | 1.00 |" in text
    assert "| tiny | trinet_online | 0.270 | 0.010 | 1.35 | <= 1.3: MISSED |" in text
    assert "| tiny | trinet_offline | 0.200 | 0.010 | 1.00 | <= 1.05: met |" in text
    assert "| tiny | data2vec2_m1 | 0.125 | 0.010 | 0.62 | audio s / s >= 1.5: met | 48.0 | 1.60 |" in text
    assert "| tiny | trinet2_offline_m8 | 0.500 | 0.010 | 2.50 | masked / s >= 2.5: MISSED by 0.50 |" in text
    assert text.count("| 1.0 | - |") == len(rows)  # no k-means in these methods
    assert "d2v_aqc's augmented copy, made by the data loader (not in the step times): 1.25 ms" in text
    # A visible-only student with another clone count has no target (the frozen-teacher step targets
    # compare TriNet with data2vec on the span-mask student).
    assert "| tiny | trinet2_offline | 0.400 | 0.010 | 2.00 |  |" in text
    assert "| tiny | data2vec2_m8 | 0.500 | 0.010 | 2.50 | masked / s >= 2.5: met | 12.0 | 0.40 | 1400 | 2.80 |" in text
