"""Every method of the framework in the mini_synth recipe, end to end.

``--ssl_methods "data2vec trinet mt4ssl dinosr data2vec2 d2v_aqc trinet2"`` on a copy of the shared
finished run (the test's command with five more methods): data2vec's and TriNet's experiments
were made with the same settings and are reused; MT4SSL gets its k-means labels first (stage 7),
DinoSR pretrains with its online codebooks, data2vec 2.0 with its efficient student, data2vec-aqc
on an augmented view with the noises and impulse responses the recipe generates, and TriNet
on the efficient student reads the frozen-teacher targets TriNet's dump holds; all are fine-tuned,
decoded and packed like the others, and the results table has a row for each model.
"""

import re

import pytest
import yaml

from espnet_trinet.utils.files import file_sha256

from mini_synth_testing import (
    ASR_EXP,
    GREEDY,
    RECIPE_ARGS,
    SHARES_REFERENCE,
    FROZEN_TARGETS,
    SSL_EXP,
    TINY_TAG,
    copy_recipe,
    file_times,
    run_recipe,
)

pytestmark = [SHARES_REFERENCE, pytest.mark.slow]

ALL_METHODS = "data2vec trinet mt4ssl dinosr data2vec2 d2v_aqc trinet2"
NEW = {m: (f"exp/ssl_{m}{TINY_TAG}", f"exp/asr_{m}{TINY_TAG}{TINY_TAG}")
       for m in ("mt4ssl", "dinosr", "data2vec2", "d2v_aqc", "trinet2")}
AUGMENTATION = "dump/augmentation_16000"  # the generated noises and impulse responses
LABELS = "dump/kmeans_mfcc_k50"  # pretrain_mt4ssl_tiny.yaml: MFCC, 50 clusters


@pytest.fixture(scope="module")
def all_methods(mini_synth_reference, tmp_path_factory):
    recipe = copy_recipe(tmp_path_factory.mktemp("all_methods"), outputs_of=mini_synth_reference[0])
    before = file_times(recipe)
    # Greedy decoding only (the LM decoding of a model is the same whatever its pretraining, and the
    # shared run tests it): this run is a part of every CI run.
    result = run_recipe(recipe, *RECIPE_ARGS, "--ssl_methods", ALL_METHODS, "--use_lm", "false")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return recipe, result, before


def test_the_earlier_methods_are_reused_and_the_new_ones_pretrain_and_fine_tune(all_methods):
    recipe, result, before = all_methods
    after = file_times(recipe)
    for exp in (*SSL_EXP.values(), *ASR_EXP.values()):
        checkpoint = f"{exp}/checkpoint.pth"
        assert before[checkpoint] == after[checkpoint], f"{exp} was trained again"
    for ssl_exp, asr_exp in NEW.values():
        for path in (f"{ssl_exp}/valid.loss.ave.pth", f"{ssl_exp}/.done", f"{asr_exp}/valid.cer_ctc.ave.pth"):
            assert (recipe / path).is_file(), path
    assert ("Stage 7: pretraining of the methods without a frozen teacher: data2vec mt4ssl dinosr data2vec2 d2v_aqc"
            in result.stdout)
    assert "Stage 9: pretraining of the methods with a frozen teacher: trinet trinet2" in result.stdout


def test_trinet2_reads_the_frozen_targets_trinet_dumped(all_methods):
    """The same teacher and projector: one dump serves both TriNets (it is not made again)."""
    recipe, result, before = all_methods
    after = file_times(recipe)
    dumped = [path for path in before if path.startswith(f"{FROZEN_TARGETS}/") and path.endswith(".ark")]
    assert dumped and all(after[path] == before[path] for path in dumped)
    config = yaml.safe_load((recipe / NEW["trinet2"][0] / "config.yaml").read_text())
    assert [f"{FROZEN_TARGETS}/train/targets.scp", "frozen_targets", "kaldi_ark"] in \
        config["train_data_path_and_name_and_type"]
    assert config["view"] == "visible_only" and config["view_conf"]["clones"] == 4
    log = (recipe / NEW["trinet2"][0] / "train.log").read_text()
    assert re.search(r"loss_regul=\d", log) and re.search(r"loss_struc=\d", log)


def test_mt4ssl_trained_on_kmeans_labels_made_before_it(all_methods):
    recipe, result, _ = all_methods
    labels = recipe / LABELS
    info = yaml.safe_load((labels / "kmeans" / "kmeans_info.yaml").read_text())
    assert info["num_clusters"] == 50 and info["features"] == "mfcc"
    for dset in ("train", "dev"):
        utts = [line.split()[0] for line in (recipe / "dump" / "raw" / dset / "wav.scp").read_text().splitlines()]
        scp = [line.split()[0] for line in (labels / dset / "labels.scp").read_text().splitlines()]
        assert sorted(scp) == sorted(utts), dset
        assert (labels / dset / ".done").is_file()
    config = yaml.safe_load((recipe / NEW["mt4ssl"][0] / "config.yaml").read_text())
    assert [f"{LABELS}/train/labels.scp", "labels", "kaldi_ark"] in config["train_data_path_and_name_and_type"]
    log = (recipe / NEW["mt4ssl"][0] / "train.log").read_text()
    assert re.search(r"loss_km=\d", log) and re.search(r"loss_struc=\d", log)
    assert result.stdout.index("k-means of mfcc features for km") < result.stdout.index("pretraining mt4ssl")


def test_dinosr_logs_its_codebooks(all_methods):
    recipe, _, _ = all_methods
    log = (recipe / NEW["dinosr"][0] / "train.log").read_text()
    for stat in ("codebook_ppl", "dead_codewords", "pred_ppl_"):
        assert stat in log, stat


def test_results_md_has_a_row_for_every_model(all_methods):
    recipe, _, _ = all_methods
    results = (recipe / "exp" / "RESULTS.md").read_text()
    cell = r"\d+\.\d \(\d+/\d+/\d+ of \d+\)"
    names = ("no pretraining", "data2vec", "mt4ssl (k-means 50 of MFCC)", "dinosr", "data2vec2", "d2v_aqc",
             "trinet (ctc, offline)", "trinet2 (ctc, offline)")
    for table in ("WER", "CER"):
        section = results[results.index(f"## {'Word' if table == 'WER' else 'Character'} error rate"):]
        rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| model")]
        rows = rows[: len(names)]
        assert [row.split(" | ")[0][2:] for row in rows] == list(names), rows
        for row in rows:
            assert re.search(rf"\| {cell} \|$", row), row
    for _, asr_exp in NEW.values():
        assert f"`{asr_exp}/{GREEDY}`" in results


def test_d2v_aqc_trains_on_the_noises_and_impulse_responses_the_recipe_made(all_methods):
    recipe, result, _ = all_methods
    corpus = recipe / AUGMENTATION
    for name in ("noise.scp", "rir.scp", "settings.json", ".done", ".stage.done"):
        assert (corpus / name).is_file(), name
    for name in ("noise.scp", "rir.scp"):
        for line in (corpus / name).read_text().splitlines():
            assert (recipe / line.split()[1]).is_file(), line
    config = yaml.safe_load((recipe / NEW["d2v_aqc"][0] / "config.yaml").read_text())
    augmentation = config["view_conf"]["augmentation"]
    assert config["view"] == "augmented_span_mask"
    assert augmentation["reverb"]["rir_scp"] == f"{AUGMENTATION}/rir.scp"
    assert augmentation["background_noise"]["noise_scp"] == f"{AUGMENTATION}/noise.scp"
    log = (recipe / NEW["d2v_aqc"][0] / "train.log").read_text()
    for stat in ("loss_ccl=", "loss_diversity=", "loss_feature_pen=", "code_ppl=", "temp="):
        assert stat in log, stat
    assert result.stdout.index("generating noises and impulse responses") < result.stdout.index("pretraining d2v_aqc")


def test_the_new_methods_are_packed(all_methods):
    recipe, _, _ = all_methods
    for ssl_exp, asr_exp in NEW.values():
        assert list((recipe / ssl_exp).glob("*.zip")), ssl_exp
        assert list((recipe / asr_exp).glob("*.zip")), asr_exp


def test_labels_of_another_kmeans_model_are_not_reused(all_methods, tmp_path):
    """A k-means model replaced by hand (e.g. copied from another run): its labels no longer
    match, and stage 7 stops before MT4SSL trains on them, naming the file and the fix."""
    recipe = copy_recipe(tmp_path, outputs_of=all_methods[0])
    kmeans = recipe / LABELS / "kmeans" / "kmeans.npz"
    kmeans.write_bytes(kmeans.read_bytes() + b"\0")
    before = file_times(recipe)
    result = run_recipe(recipe, *RECIPE_ARGS, "--ssl_methods", ALL_METHODS, "--use_lm", "false", "--stage", "7",
                        "--stop_stage", "7")
    assert result.returncode == 1, result.stdout[-3000:]
    assert f"k-means labels of train in {LABELS}/train was made with other settings" in result.stdout
    assert "kmeans: " in result.stdout and "add --force true" in result.stdout
    assert file_times(recipe)[f"{NEW['mt4ssl'][0]}/checkpoint.pth"] == before[f"{NEW['mt4ssl'][0]}/checkpoint.pth"]


def test_kmeans_labels_of_another_methods_encoder(mini_synth_reference, tmp_path):
    """HuBERT's second iteration in the recipe: MT4SSL's labels from block 2 of the run's data2vec
    model (as pretrain_mt4ssl_base.yaml does with block 6), made after data2vec pretrained, named
    after it, and recording its checkpoint."""
    recipe = copy_recipe(tmp_path, outputs_of=mini_synth_reference[0])
    config = yaml.safe_load((recipe / "conf" / "pretrain_mt4ssl_tiny.yaml").read_text())
    labels_conf = next(spec["conf"] for spec in config["targets"] if spec["name"] == "km")
    labels_conf.update(features="ssl", feature_method="data2vec", feature_layer=2, num_classes=20)
    (recipe / "conf" / "pretrain_mt4ssl_it2.yaml").write_text(yaml.safe_dump(config))
    result = run_recipe(recipe, *RECIPE_ARGS, "--ssl_methods", "data2vec mt4ssl_it2=conf/pretrain_mt4ssl_it2.yaml",
                        "--stage", "7", "--stop_stage", "7")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    labels = recipe / f"dump/kmeans_ssl_data2vec{TINY_TAG}_block2_k20"
    info = yaml.safe_load((labels / "kmeans" / "kmeans_info.yaml").read_text())
    assert (info["features"], info["layer"], info["num_clusters"]) == ("ssl", 2, 20)
    assert info["ssl_model_file"] == f"{SSL_EXP['data2vec']}/valid.loss.ave.pth"
    assert info["ssl_model_sha256"] == file_sha256(recipe / SSL_EXP["data2vec"] / "valid.loss.ave.pth")
    assert (recipe / f"exp/ssl_mt4ssl_it2{TINY_TAG}" / "valid.loss.ave.pth").is_file()
    assert "skip: pretraining of data2vec" in result.stdout  # the features' model was not retrained
