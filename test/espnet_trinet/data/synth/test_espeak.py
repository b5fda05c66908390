import shutil

import numpy as np
import pytest

from espnet_trinet.data.synth import espeak


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_synthesize_speed_changes_duration():
    slow, fs = espeak.synthesize("the green table painted a river", "en-gb+f2", 120, 50)
    fast, _ = espeak.synthesize("the green table painted a river", "en-gb+f2", 220, 50)
    assert fs == 22050 and slow.dtype == np.float32 and slow.ndim == 1
    assert len(slow) > 1.4 * len(fast) and np.abs(slow).max() > 0.1


def test_missing_espeak_is_explained(monkeypatch):
    monkeypatch.setattr(espeak, "ESPEAK", "espeak-ng-not-there")
    with pytest.raises(espeak.EspeakError, match="apt-get install espeak-ng"):
        espeak.check_espeak()
