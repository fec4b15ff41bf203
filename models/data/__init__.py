"""Data: the files that ship here and the commands that build training sets.

Shipped files (`tinyshakespeare.txt`, `music_heldout.npz`) are read through models/datasets.py,
which checks each against its sha256; README.md says where they come from. The builders run as
`python -m models.data SUBCOMMAND` (see models/data/__main__.py): `images` builds a GAN data set
from Debian packages or folders (models/data/images.py).
"""
