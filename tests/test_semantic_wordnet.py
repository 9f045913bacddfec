"""WordNet 3.0 for nltk from the Debian packages, class -> synset mapping, hierarchy."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_debian_wordnet

from cnnpractice.semantic import wordnet
from cnnpractice.semantic.wordnet import (
    WordNetMissing,
    class_hierarchy,
    lexnames_from_man,
    load_wordnet,
    prepare_wordnet,
    resolve_synsets,
)


@needs_debian_wordnet
def test_lexnames_rebuilt_from_the_manual_page():
    lines = lexnames_from_man(wordnet.LEXNAMES_MAN).splitlines()
    assert len(lines) == 45
    assert lines[3] == "03\tnoun.Tops\t1" and lines[18] == "18\tnoun.person\t1"
    assert lines[0] == "00\tadj.all\t3" and lines[44] == "44\tadj.ppl\t3"


@needs_debian_wordnet
def test_prepared_corpus_is_wordnet_30_for_nltk(nltk_root, wn):
    corpus = nltk_root / "corpora" / "wordnet"
    assert {"data.noun", "index.sense", "lexnames", "source.json"} <= {p.name for p in corpus.iterdir()}
    assert wn.get_version() == "3.0"
    assert wn.synset("dog.n.01").lexname() == "noun.animal"
    # ImageNet wnid n01440764 (tench) is the noun at that WordNet 3.0 offset
    assert wn.synset_from_pos_and_offset("n", 1440764).name() == "tench.n.01"
    import nltk

    assert str(nltk_root.resolve()) == nltk.data.path[0]


def test_missing_debian_files_are_a_clear_error(tmp_path):
    out = tmp_path / "nltk_data" / "corpora" / "wordnet"
    with pytest.raises(WordNetMissing, match="Install the Debian packages wordnet-base wordnet-sense-index"):
        prepare_wordnet(out, source="debian", debian_dir=tmp_path / "none", lexnames_man=tmp_path / "none.gz")
    assert not out.exists()


def test_no_debian_files_and_no_network_is_a_clear_error(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    calls = []

    def offline(request, timeout=None):
        calls.append(request.full_url)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    out = tmp_path / "nltk_data" / "corpora" / "wordnet"
    with pytest.raises(WordNetMissing, match=r"index\.xml.*not known.*Install the Debian packages"):
        prepare_wordnet(out, source="auto", debian_dir=tmp_path / "none", lexnames_man=tmp_path / "none.gz")
    assert calls == ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/index.xml"] and not out.exists()


def test_loading_a_missing_corpus_names_the_folder_and_the_rule(tmp_path):
    with pytest.raises(WordNetMissing, match=f"{tmp_path}/corpora/wordnet has no WordNet corpus.*prepare_wordnet"):
        load_wordnet(tmp_path)


def test_bad_source_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="semantic.wordnet must be one of"):
        prepare_wordnet(tmp_path / "w", source="apt")


@needs_debian_wordnet
def test_path_distances_equal_nltk_shortest_path_distance(wn):
    names = ["dog.n.01", "house_cat.n.01", "car.n.01", "truck.n.01", "sandal.n.01", "oak.n.02", "tench.n.01"]
    synsets = [wn.synset(n) for n in names]
    tree = class_hierarchy(synsets)
    for a, b in itertools.combinations(range(len(names)), 2):
        assert tree["distance"][a, b] == synsets[a].shortest_path_distance(synsets[b]), (names[a], names[b])
    assert np.all(np.diag(tree["distance"]) == 0)
    candidates = list(tree["candidates"])
    assert tree["membership"][:, candidates.index("carnivore.n.01")].tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert tree["membership"][:, candidates.index("entity.n.01")].all()


@needs_debian_wordnet
def test_classes_map_by_config_or_by_wnid(wn):
    got = resolve_synsets(
        wn,
        ["Dog", "Sneaker", "tench"],
        ["Dog", "Sneaker", "n01440764"],
        {"Dog": "dog.n.01", "Sneaker": "gym_shoe.n.01"},
        "semantic.datasets.x.synsets",
    )
    assert [s.name() for s in got] == ["dog.n.01", "gym_shoe.n.01", "tench.n.01"]


@needs_debian_wordnet
@pytest.mark.parametrize(
    "classes, mapping, message",
    [
        (
            ["Dog", "Bag"],
            {"Dog": "dog.n.01"},
            "class 'Bag' has no WordNet synset: add it under semantic.datasets.x.synsets",
        ),
        (["Dog"], {"Dog": "dgo.n.01"}, r"semantic.datasets.x.synsets.Dog: No lemma 'dgo'"),
        (["Dog"], {"Dog": "dog.n.01", "Cat": "cat.n.01"}, "names classes the dataset does not have: \\['Cat'\\]"),
        (["Dog", "Hound"], {"Dog": "dog.n.01", "Hound": "dog.n.01"}, "both map to dog.n.01"),
    ],
)
def test_bad_class_mappings_name_the_config_key(wn, classes, mapping, message):
    with pytest.raises(ValueError, match=message):
        resolve_synsets(wn, classes, classes, mapping, "semantic.datasets.x.synsets")


@needs_debian_wordnet
def test_cifar100_classes_all_have_distinct_synsets(wn):
    from cnnpractice.semantic.cifar100 import SYNSETS

    synsets = resolve_synsets(wn, list(SYNSETS), list(SYNSETS), SYNSETS, "cifar100")
    assert len(set(synsets)) == 100
    tree = class_hierarchy(synsets)
    own = [list(tree["candidates"]).index(s) for s in tree["synsets"]]
    assert tree["membership"][:, own].sum(axis=0).tolist() == [1] * 100, "no class synset is above another"


def _nltk_mirror(folder: Path, corpus: Path, md5: str | None = None) -> None:
    """A mirror folder (``<host>/<path>``) holding nltk's index.xml and a wordnet.zip of ``corpus``."""
    import hashlib
    import zipfile

    from cnnpractice.data.downloads import mirror_relpath
    from cnnpractice.semantic.wordnet_download import NLTK_INDEX_URL

    url = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/wordnet.zip"
    archive = folder / mirror_relpath(url)
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for path in corpus.iterdir():
            if path.name != "source.json":
                zf.write(path, f"wordnet/{path.name}")
    checksum = md5 or hashlib.md5(archive.read_bytes()).hexdigest()
    index = folder / mirror_relpath(NLTK_INDEX_URL)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(
        f'<nltk_data><packages><package id="wordnet" url="{url}" checksum="{checksum}" /></packages></nltk_data>'
    )


@needs_debian_wordnet
def test_download_fetches_nltks_zip_through_the_mirror(tmp_path, nltk_root):
    from cnnpractice.data.downloads import Downloads

    _nltk_mirror(tmp_path / "mirror", nltk_root / "corpora" / "wordnet")
    out = tmp_path / "nltk_data" / "corpora" / "wordnet"
    info = prepare_wordnet(out, source="download", downloads=Downloads(mirror=str(tmp_path / "mirror")))
    assert (info["source"], info["version"]) == ("download", "3.0")
    assert info["received"]["verified"] == ["md5"] and info["received"]["source"].startswith("file://")
    assert (out / "data.noun").is_file() and not (out / ".nltk_download").exists()


@needs_debian_wordnet
def test_download_with_a_wrong_checksum_keeps_nothing(tmp_path, nltk_root):
    from cnnpractice.data.downloads import Downloads

    _nltk_mirror(tmp_path / "mirror", nltk_root / "corpora" / "wordnet", md5="0" * 32)
    out = tmp_path / "nltk_data" / "corpora" / "wordnet"
    with pytest.raises(WordNetMissing, match="md5 of the downloaded file is .*expected 0000"):
        prepare_wordnet(out, source="download", downloads=Downloads(mirror=str(tmp_path / "mirror")))
    assert not (tmp_path / "nltk_data").exists()
