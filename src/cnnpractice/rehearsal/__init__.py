"""Offline rehearsal of the paper configuration: miniature downloads and a loopback server.

``config/paper.yaml`` downloads tens of GB (OASIS, Food-101, ImageNet weights ...) before
its last rules run. The rehearsal runs the same workflow against *miniatures*: files in
the exact published formats (archive types, inner layouts, label files, image formats),
with a few items per class, served from this machine.

Modules
-------
* :mod:`.miniatures` -- :func:`~.miniatures.build_miniatures` and the command line
  ``python -m cnnpractice.rehearsal.miniatures OUT_DIR``.
* :mod:`.mini_ucr`, :mod:`.mini_smalldata`, :mod:`.mini_semantic`, :mod:`.mini_brain` --
  one builder per dataset; their docstrings say, per dataset, the real layout, what the
  miniature keeps and what it leaves out or could not check against the real files.
* :mod:`.formats` -- reproducible writers of the formats (tar/zip with fixed times, .mat,
  JPEG/TIFF, Analyze, NIfTI, Python-2 pickles).
* :mod:`.layout` -- the output layout, the URL -> mirror path rule and the manifest.
* :mod:`.server` -- the loopback-only static HTTP server (start/stop from tests and make).

Phase 1 (this package) builds and tests the miniatures: each is read by the library
that reads the real format (tests/test_rehearsal_miniatures.py). Phase 2 wires them in.

Design of phase 2: one mirror setting, checksums checked as for the real files
------------------------------------------------------------------------------------
1. **Config.** A ``downloads`` section (schema, README)::

       downloads:
         mirror: null        # base URL or local folder holding <host>/<path> of every URL
         overrides: {}       # per dataset, e.g. {oasis: /data/oasis-mirror}; same form
         checksums: null     # a manifest.json (rehearsal only) whose entries replace the
                             # published checksums of the URLs it lists

   Dataset keys are the miniature names (``ucr``, ``fashion_mnist``, ``flowers102``,
   ``food101``, ``uc_merced``, ``brazilian_coffee``, ``cifar100``, ``oasis``,
   ``harvard_oxford``, ``torchvision_weights``, ``wordnet``): one vocabulary for config,
   manifest and builders.

2. **One URL rule.** :func:`.layout.mirror_relpath` moves to the shared ``data`` package
   (beside ``download``): a URL maps to ``<mirror>/<host>/<path>`` (``wget -x``'s layout,
   so a site can fill a mirror with wget). A base URL is requested over HTTP; a folder
   is copied through the same size and checksum checks. With a mirror set, the original
   URL is not tried as a fallback: a rehearsal can never reach the internet, and a site
   that sets a mirror does so on purpose.

3. **Checksums the way the real ones are checked.** Every download keeps its real
   check: the published md5 (registry, cifar100, OASIS disc 1), torch.hub's sha256
   prefix in the weights file name, the md5 each Zenodo record publishes per file,
   torchvision's md5s of the ImageNet archives, and, where nothing is published, the
   sha256 recorded at the first download and compared later. Only the *expected value*
   can come from elsewhere: when ``downloads.checksums`` names a manifest listing the
   URL (for ImageNet: the file name of a ``local/imagenet`` entry), its md5 and sha256
   replace the published value, and the same function checks the file. An override is
   used only if the manifest entry's ``replaces`` names the published value the code
   holds for that URL, so a stale manifest cannot switch a check off unnoticed. Real
   mirrors need no manifest: they hold the real files, which pass the published checks.

4. **Per download.**

   * UCR: aeon hard-codes ``https://zenodo.org/api/records/<id>``, so the workflow
     fetches the record itself (through the mirror): ``api/records/<id>``, then every
     ``files[].key`` from :data:`.mini_ucr.ZENODO_FILE_URL`, checked against the
     record's ``md5:`` checksum, written (staged) to ``<extract_path>/<name>/``; aeon
     then reads the cached copy (tests show aeon reads these files and that aeon's own
     downloader accepts the record JSON).
   * Small data, CIFAR-100, OASIS, Fashion-MNIST: ``download`` and ``fetch_oasis``
     already take URLs and md5s; they get them through the mirror rule and the manifest.
   * Harvard-Oxford: a ``localrule`` downloads ``HarvardOxford.tgz`` and unpacks it to
     ``resources/nilearn_data/fsl/``; :func:`cnnpractice.brain.atlases.load_atlas` gets
     ``data_dir=resources/nilearn_data``, so nilearn finds the files and never downloads
     (today it downloads into ``~/nilearn_data`` inside the template rule).
   * torchvision weights: a ``localrule`` fetches every (arch, weights) the config uses
     into ``resources/torch/hub/checkpoints/<file>``; rules that build models set
     ``TORCH_HOME=resources/torch`` (today each training job downloads on first use,
     into the user's cache, on compute nodes).
   * WordNet: nltk's downloader refuses loopback and private addresses (its SSRF guard),
     so the workflow downloads ``wordnet.zip`` itself (URL and checksum from nltk's
     ``index.xml``, both through the mirror) and unpacks it.
   * ImageNet (local, never downloaded): its own rule verifies the two archives
     (torchvision's md5s, or manifest overrides), unpacks the validation images into
     ``resources/imagenet/val/<wnid>/`` (staged; never inside the user's copy) and
     checks completeness from the devkit itself: every ground-truth line has its image
     and every leaf class at least one; ``semantic.datasets.imagenet`` gains the
     expected counts (1000 classes, 50,000 images; the rehearsal sets 1000 images).

5. **make rehearse.** Build the miniatures into ``.rehearsal/mini``; start the server
   (``python -m cnnpractice.rehearsal.server start .rehearsal/mini/mirror --state
   .rehearsal/server.json``; it prints the URL); run ``snakemake --configfile
   config/paper.yaml config/rehearsal.yaml --config downloads="{mirror: URL,
   checksums: .rehearsal/mini/manifest.json}" --directory .rehearsal/run`` (the port is
   random, so the URL is passed on the command line; a separate working directory keeps
   rehearsal results and resources away from real ones); stop the server whatever the
   exit status. ``config/rehearsal.yaml`` only shrinks (images per class, epochs,
   repeats, event counts, slice steps, OASIS ``max_per_class``) and points
   ``semantic.datasets.imagenet.root`` at ``.rehearsal/mini/local/imagenet``.

6. **Hardening tests (item 5)** use the same server: Content-Length and Range are
   served; a cut-short transfer needs a handler that sends fewer bytes than it
   announces (a subclass in the test).
"""
