from espnet2.asr.frontend.default import DefaultFrontend

from espnet_trinet.utils.espnet_conf import class_defaults, resolved_conf


def test_conf_is_completed_with_the_class_defaults():
    conf = resolved_conf(DefaultFrontend, {"hop_length": 160, "fs": "16k"})
    assert conf["hop_length"] == 160 and conf["fs"] == 16000
    assert conf["n_fft"] == 512 and conf["n_mels"] == 80  # DefaultFrontend's defaults
    assert resolved_conf(DefaultFrontend, {"n_fft": 512}) == resolved_conf(DefaultFrontend, None)


def test_unknown_class_keeps_the_conf_as_written():
    assert resolved_conf(None, {"a": 1, "fs": "8k"}) == {"a": 1, "fs": 8000}


def test_required_parameters_have_no_default():
    class Part:
        def __init__(self, input_size: int, width: int = 4, **kwargs):
            pass

    assert class_defaults(Part) == {"width": 4}
