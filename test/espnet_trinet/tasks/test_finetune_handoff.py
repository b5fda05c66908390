"""The pretrained encoder initialises a stock ESPnet CTC model via --init_param."""

import torch

from espnet_trinet.bin.trinet_train import main as train_main
from trinet_testing import MINI_CONF, TOKENS, train_args


def test_asr_train_init_param_copies_the_encoder_exactly(audio_dirs, tmp_path):
    from espnet2.bin.asr_train import main as asr_train_main

    train_dir, valid_dir = audio_dirs
    ssl_dir = tmp_path / "ssl"
    train_main(train_args(MINI_CONF / "pretrain_data2vec_tiny.yaml", ssl_dir, *audio_dirs, "--max_epoch", 1))
    pretrained = torch.load(ssl_dir / "1epoch.pth", weights_only=False)

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(TOKENS) + "\n")
    for d in audio_dirs:
        lines = (d / "text").read_text().splitlines()
        (d / "text_shape.char").write_text("".join(f"{l.split()[0]} {len(l.split(maxsplit=1)[1])}\n" for l in lines))
    asr_dir = tmp_path / "asr"
    asr_train_main(
        [
            "--config", str(MINI_CONF / "finetune_ctc_tiny.yaml"),
            "--normalize", "utterance_mvn",
            "--token_list", str(tokens),
            "--token_type", "char",
            "--output_dir", str(asr_dir),
            "--init_param", f"{ssl_dir / '1epoch.pth'}:encoder:encoder",
            "--train_data_path_and_name_and_type", f"{train_dir}/wav.scp,speech,sound",
            "--train_data_path_and_name_and_type", f"{train_dir}/text,text,text",
            "--train_shape_file", f"{train_dir}/speech_shape",
            "--train_shape_file", f"{train_dir}/text_shape.char",
            "--valid_data_path_and_name_and_type", f"{valid_dir}/wav.scp,speech,sound",
            "--valid_data_path_and_name_and_type", f"{valid_dir}/text,text,text",
            "--valid_shape_file", f"{valid_dir}/speech_shape",
            "--valid_shape_file", f"{valid_dir}/text_shape.char",
            "--batch_bins", "100000",
            "--max_epoch", "1",
            "--specaug", "none",
            # lr 0 (AdamW's decoupled decay is lr * wd = 0): the saved epoch equals the init.
            "--optim_conf", "lr=0.0",
            "--ngpu", "0",
        ]
    )
    asr = torch.load(asr_dir / "1epoch.pth", weights_only=False)
    encoder_keys = [k for k in pretrained if k.startswith("encoder.")]
    assert len(encoder_keys) > 50
    for key in encoder_keys:
        if key.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked"):
            continue  # batch-norm statistics move with every training forward, lr or not
        assert torch.equal(asr[key], pretrained[key]), key
    assert "ctc.ctc_lo.weight" in asr and not any(k.startswith(("targets.", "objectives.", "view.")) for k in asr)
