import hashlib
import shutil

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from espnet_trinet.bin.datadir import main as datadir_main
from espnet_trinet.bin.dump_frozen_targets import main as dump_main
from espnet_trinet.tasks.trinet import TriNetTask
from espnet_trinet.teachers.offline_dump import merge_target_dumps, read_finished_keys
from trinet_testing import MINI_CONF, load_batch, namespace_from_config


def _model(mode, conf):
    args = namespace_from_config(
        MINI_CONF / "pretrain_trinet_tiny.yaml",
        normalize="utterance_mvn",
        normalize_conf={},
        target_conf=dict(frozen=dict(mode=mode, **conf)),
    )
    return TriNetTask.build_model(args)


@pytest.mark.parametrize("projector, dtype", [("ctc", "float32"), ("random", "int8"), ("regression", "float32")])
def test_offline_targets_give_the_online_loss(asr_teacher, audio_dirs, tmp_path, projector, dtype):
    train_dir = audio_dirs[0]
    out = tmp_path / "targets"
    dump_main(["--data_dir", str(train_dir), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
               "--projector", projector, "--num_classes", "32"])
    info = yaml.safe_load((out / "targets_info.yaml").read_text())
    assert info["num_utterances"] == 8 and info["dtype"] == dtype and info["projector"] == projector

    online = _model("online", dict(asr_model_file=str(asr_teacher), projector=projector, num_classes=32))
    offline = _model("offline", dict(projector=projector, output_dim=info["output_dim"]))
    offline.load_state_dict(online.state_dict())
    online.eval(), offline.eval()

    # One utterance per forward: the dump is the exact, padding-free teacher output,
    # so the online teacher must see the same (unpadded) input to be comparable.
    stored = kaldiio.load_scp(str(out / "targets.scp"))
    speech, lengths = load_batch(train_dir, 4)
    keys = [line.split()[0] for line in (train_dir / "wav.scp").read_text().splitlines()[:4]]
    for i, key in enumerate(keys):
        x, n = speech[i : i + 1, : lengths[i]], lengths[i : i + 1]
        target = torch.from_numpy(stored[key].astype(np.float32)).unsqueeze(0)
        torch.manual_seed(5)
        loss_online, stats_online, _ = online(x, n)
        torch.manual_seed(5)
        loss_offline, stats_offline, _ = offline(x, n, frozen_targets=target,
                                                 frozen_targets_lengths=torch.tensor([target.shape[1]]))
        assert torch.allclose(loss_online, loss_offline, rtol=1e-5, atol=1e-6), key
        assert torch.allclose(stats_online["loss_regul"], stats_offline["loss_regul"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("projector", ["random", "ctc"])
def test_dumped_targets_load_through_espnets_dataset(asr_teacher, audio_dirs, tmp_path, projector):
    # What training reads: ESPnetDataset on targets.scp as kaldi_ark (it rejected uint8 hard ids).
    from espnet2.train.dataset import ESPnetDataset

    out = tmp_path / "targets"
    dump_main(["--data_dir", str(audio_dirs[0]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
               "--projector", projector])
    dataset = ESPnetDataset([(str(out / "targets.scp"), "frozen_targets", "kaldi_ark")])
    key = next(iter(kaldiio.load_scp(str(out / "targets.scp"))))
    _, data = dataset[key]
    if projector == "random":
        assert data["frozen_targets"].dtype == np.int64 and 0 <= data["frozen_targets"].min() <= 31
    else:
        assert data["frozen_targets"].dtype == np.float32 and data["frozen_targets"].ndim == 2


def test_soft_targets_in_float16_stay_close(asr_teacher, audio_dirs, tmp_path):
    out = tmp_path / "targets16"
    dump_main(["--data_dir", str(audio_dirs[0]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
               "--projector", "ctc", "--target_dtype", "float16"])
    first = next(iter(kaldiio.load_scp(str(out / "targets.scp")).values()))
    assert first.dtype == np.float16 and first.shape[1] == 31
    assert np.allclose(first.astype(np.float32).sum(axis=1), 1.0, atol=1e-2)


def test_interrupted_dump_resumes_without_recomputing(asr_teacher, audio_dirs, tmp_path):
    out = tmp_path / "resume"
    args = ["--data_dir", str(audio_dirs[0]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
            "--projector", "random"]
    dump_main(args)
    scp = out / "targets.scp"
    complete = scp.read_text()
    lines = complete.splitlines(keepends=True)
    # Simulate a kill: 5 entries done, the 6th line torn, no info file.
    scp.write_text("".join(lines[:5]) + lines[5][:7])
    (out / "targets_info.yaml").unlink()
    assert len(read_finished_keys(scp)) == 5
    dump_main(args)
    assert sorted(read_finished_keys(scp)) == sorted(line.split()[0] for line in lines)
    assert (out / "targets_info.yaml").exists()
    first_run = {k: v for k, v in kaldiio.load_scp(str(scp)).items()}
    assert len(first_run) == 8


def test_wrong_sampling_rate_names_the_utterance(asr_teacher, tmp_path):
    import soundfile as sf

    d = tmp_path / "data8k"
    d.mkdir()
    sf.write(d / "a.wav", np.zeros(8000, dtype=np.float32), 8000)
    (d / "wav.scp").write_text(f"uttA {d / 'a.wav'}\n")
    with pytest.raises(ValueError, match="uttA.*8000 Hz"):
        dump_main(["--data_dir", str(d), "--output_dir", str(tmp_path / "o"), "--asr_model_file", str(asr_teacher)])


def test_parallel_part_dumps_merge_into_one(asr_teacher, audio_dirs, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(audio_dirs[0], data)
    keys = [line.split()[0] for line in (data / "wav.scp").read_text().splitlines()]
    (data / "utt2spk").write_text("".join(f"{k} {k}\n" for k in keys))
    assert datadir_main(["split", "--per_utt", str(data), "2"]) == 0
    parts = [tmp_path / "t" / str(n) for n in (1, 2)]
    for n, part in zip((1, 2), parts):
        dump_main(["--data_dir", str(data / "split2utt" / str(n)), "--output_dir", str(part),
                   "--asr_model_file", str(asr_teacher), "--projector", "random", "--num_classes", "32"])
    info = merge_target_dumps(parts, tmp_path / "merged")
    merged = kaldiio.load_scp(str(tmp_path / "merged" / "targets.scp"))
    assert sorted(merged.keys()) == sorted(keys) and info["num_utterances"] == len(keys)
    whole = tmp_path / "whole"
    dump_main(["--data_dir", str(data), "--output_dir", str(whole), "--asr_model_file", str(asr_teacher),
               "--projector", "random", "--num_classes", "32"])
    for key, ids in kaldiio.load_scp(str(whole / "targets.scp")).items():
        np.testing.assert_array_equal(merged[key], ids)

    (parts[1] / "targets_info.yaml").unlink()  # an unfinished part
    with pytest.raises(FileNotFoundError, match="did not finish"):
        merge_target_dumps(parts, tmp_path / "merged2")


def test_info_records_what_made_the_targets(asr_teacher, audio_dirs, tmp_path):
    out = tmp_path / "targets"
    dump_main(["--data_dir", str(audio_dirs[1]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
               "--projector", "random", "--num_classes", "16", "--seed", "3"])
    info = yaml.safe_load((out / "targets_info.yaml").read_text())
    request = yaml.safe_load((out / "targets_request.yaml").read_text())
    assert {k: info[k] for k in request} == request
    assert info["num_classes"] == 16 and info["seed"] == 3 and info["temperature"] is None
    assert info["teacher_model_sha256"] == hashlib.sha256(asr_teacher.read_bytes()).hexdigest()
    assert info["fs"] == 16000 and info["probe_samples"] == [16000, 160000] and info["probe_frames"] == [24, 249]
    assert info["token_list"][0] == "<blank>" and len(info["token_list"]) == 31


def test_verify_only_accepts_the_same_teacher_and_names_what_changed(asr_teacher, audio_dirs, tmp_path):
    out = tmp_path / "targets"
    args = ["--output_dir", str(out), "--asr_model_file", str(asr_teacher), "--projector", "random"]
    with pytest.raises(FileNotFoundError, match="holds no complete dump"):
        dump_main(args + ["--verify_only", "true"])
    dump_main(args + ["--data_dir", str(audio_dirs[1])])
    before = (out / "targets.scp").read_text()
    # The teacher's experiment moved: the same files, so the same targets.
    moved = tmp_path / "moved"
    shutil.copytree(asr_teacher.parent, moved)
    dump_main(["--output_dir", str(out), "--asr_model_file", str(moved / asr_teacher.name), "--projector", "random",
               "--verify_only", "true"])
    with pytest.raises(ValueError, match=r"stale frozen targets(.|\n)*num_classes: 32 in the dump, 16 now"):
        dump_main(args + ["--verify_only", "true", "--num_classes", "16"])
    with pytest.raises(ValueError, match=r"projector: random in the dump, ctc now(.|\n)*rm -r"):
        dump_main(args[:-1] + ["ctc", "--verify_only", "true"])
    assert (out / "targets.scp").read_text() == before  # verifying writes nothing


def test_targets_of_unknown_origin_are_not_resumed(asr_teacher, audio_dirs, tmp_path):
    out = tmp_path / "targets"
    args = ["--data_dir", str(audio_dirs[1]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher)]
    dump_main(args)
    (out / "targets_info.yaml").unlink()
    (out / "targets_request.yaml").unlink()  # e.g. a dump made before the request was recorded
    with pytest.raises(ValueError, match="which teacher made them is unknown"):
        dump_main(args)


def test_parts_dumped_by_different_teachers_do_not_merge(asr_teacher, audio_dirs, tmp_path):
    other = tmp_path / "other_teacher"
    shutil.copytree(asr_teacher.parent, other)
    state = torch.load(other / asr_teacher.name)
    torch.save({k: v * 1.01 if v.is_floating_point() else v for k, v in state.items()}, other / asr_teacher.name)
    parts = [tmp_path / "1", tmp_path / "2"]
    for part, teacher in zip(parts, (asr_teacher, other / asr_teacher.name)):
        dump_main(["--data_dir", str(audio_dirs[1]), "--output_dir", str(part), "--asr_model_file", str(teacher),
                   "--projector", "random"])
    with pytest.raises(ValueError, match="the parts disagree on teacher_model_sha256"):
        merge_target_dumps(parts, tmp_path / "merged")


def test_dump_takes_the_projector_from_the_pretraining_config(asr_teacher, audio_dirs, tmp_path):
    out = tmp_path / "targets"
    dump_main(["--data_dir", str(audio_dirs[1]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
               "--source_conf", "{projector: random, num_classes: 16, seed: 2}", "--target_dtype", "float16"])
    info = yaml.safe_load((out / "targets_info.yaml").read_text())
    assert (info["projector"], info["output_dim"], info["seed"]) == ("random", 16, 2)
    # an option that disagrees with the config would make a dump the config does not describe
    with pytest.raises(ValueError, match="--seed 1 disagrees with the pretraining config's seed: 2"):
        dump_main(["--data_dir", str(audio_dirs[1]), "--output_dir", str(tmp_path / "other"),
                   "--asr_model_file", str(asr_teacher), "--source_conf", "{projector: random, seed: 2}",
                   "--seed", "1"])
