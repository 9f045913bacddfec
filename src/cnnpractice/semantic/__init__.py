"""Semantic embeddings (study 4): the taxonomy a CNN induces, named by WordNet.

After García-Gasulla, Ramos-Pollán et al. (2016), "On the representativeness of
convolutional neural networks layers": per-class mean activations of chosen layers
are clustered without supervision (spectral clustering, cosine affinity, k = 2..19),
each cluster is named by the WordNet hypernym that best covers its classes and
excludes the others, and each layer is scored by how well its clusters and its
class distances agree with WordNet.

Modules, one job each:

* :mod:`.wordnet` -- WordNet 3.0 as an nltk corpus (from the Debian packages, or
  ``nltk.download``), class -> synset mapping, the classes' hypernym hierarchy.
* :mod:`.activations` -- streamed per-class means of layer activations.
* :mod:`.sources` -- the images: prepared arrays (Fashion-MNIST, CIFAR-100) or an
  ImageNet folder; and the networks (workflow checkpoints, torchvision models).
* :mod:`.clustering` -- cosine affinity, spectral clustering for a range of k, the rank
  correlation with WordNet distances.
* :mod:`.naming` -- the best-covering WordNet hypernym of each cluster.
* :mod:`.cifar100` -- CIFAR-100 download and preparation, its WordNet synsets.
* :mod:`.stages` -- the rules' entry points (one function per rule), paths and values.
* :mod:`.tables`, :mod:`.figures` -- the taxonomy and layer tables, the figure.

Imports are cheap: numpy only at import time; torch, nltk, scikit-learn inside
the functions that need them.
"""
