"""TriNet and its peers as ESPnet tasks: masked student, EMA teacher, frozen ASR teacher."""

__version__ = "0.1.0"
