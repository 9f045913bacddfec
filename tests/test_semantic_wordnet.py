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
    import nltk

    calls = []
    monkeypatch.setattr(nltk, "download", lambda *a, **k: calls.append(a) or False)
    out = tmp_path / "nltk_data" / "corpora" / "wordnet"
    with pytest.raises(WordNetMissing, match=r"nltk.download\('wordnet'\) failed.*Install the Debian packages"):
        prepare_wordnet(out, source="auto", debian_dir=tmp_path / "none", lexnames_man=tmp_path / "none.gz")
    assert calls == [("wordnet",)] and not out.exists()


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


@needs_debian_wordnet
def test_download_fallback_unpacks_what_nltk_fetched(tmp_path, monkeypatch, nltk_root):
    import zipfile

    import nltk

    def fake_download(package, download_dir, **kwargs):  # what nltk.download leaves: corpora/wordnet.zip
        corpora = Path(download_dir) / "corpora"
        corpora.mkdir(parents=True)
        with zipfile.ZipFile(corpora / "wordnet.zip", "w") as zf:
            for path in (nltk_root / "corpora" / "wordnet").iterdir():
                if path.name != "source.json":
                    zf.write(path, f"wordnet/{path.name}")
        return True

    monkeypatch.setattr(nltk, "download", fake_download)
    out = tmp_path / "nltk_data" / "corpora" / "wordnet"
    info = prepare_wordnet(out, source="download")
    assert (info["source"], info["version"]) == ("download", "3.0")
    assert (out / "data.noun").is_file() and not (out / ".nltk_download").exists()
