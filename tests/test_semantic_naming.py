"""Naming clusters by the WordNet hypernym that best covers them (semantic study, stage 3)."""

import numpy as np
import pytest
from conftest import needs_debian_wordnet

from cnnpractice.semantic.naming import name_cluster, name_clusters
from cnnpractice.semantic.wordnet import class_hierarchy


def tree_of(wn, names):
    return class_hierarchy([wn.synset(n) for n in names])


# a hand-made hierarchy: root > {a > {a1, a2}, b > {b1 > b1x}} over classes a1, a2, b1x
HAND = {
    "candidates": np.array(["root", "a", "a1", "a2", "b", "b1", "b1x"]),
    "labels": np.array(["Root", "A", "A1", "A2", "B", "B1", "B1x"]),
    "depth": np.array([0, 1, 2, 2, 1, 2, 3]),
    "membership": np.array([[1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0], [1, 0, 0, 0, 1, 1, 1]], dtype=bool),
    "order": np.array([0, 1, 2]),
}


@pytest.mark.parametrize(
    "mask, name, f1, equivalent",
    [
        ([1, 1, 0], "A", 1.0, []),  # exactly the classes under a
        ([0, 0, 1], "B1x", 1.0, ["B", "B1"]),  # same coverage: the deepest names it
        ([1, 0, 0], "A1", 1.0, []),
        ([1, 0, 1], "Root", 0.8, []),  # 2 of the 3 under root: 2*2/(2+3)
    ],
)
def test_best_f1_names_and_the_most_specific_wins_ties(mask, name, f1, equivalent):
    named = name_cluster(np.array(mask, dtype=bool), HAND)
    assert (named["name"], named["equivalent"]) == (name, equivalent)
    assert named["f1"] == pytest.approx(f1)


def test_empty_cluster_is_an_error():
    with pytest.raises(ValueError, match="empty cluster"):
        name_cluster(np.zeros(3, dtype=bool), HAND)


@needs_debian_wordnet
def test_mammals_and_vehicles_are_named_carnivore_and_motor_vehicle(wn):
    names = ["dog.n.01", "house_cat.n.01", "car.n.01", "truck.n.01"]
    clusters = name_clusters(np.array([1, 1, 0, 0]), tree_of(wn, names), names)
    assert [c["name"] for c in clusters] == ["Carnivore", "Motor vehicle"]  # living things first
    assert [c["members"] for c in clusters] == [["dog.n.01", "house_cat.n.01"], ["car.n.01", "truck.n.01"]]
    carnivore, vehicle = clusters
    assert (carnivore["f1"], carnivore["precision"], carnivore["recall"]) == (1.0, 1.0, 1.0)
    assert "Mammal" in carnivore["equivalent"] and "Living thing" in carnivore["equivalent"]
    assert "Wheeled vehicle" in vehicle["equivalent"] and vehicle["qualifier"] is None


@needs_debian_wordnet
def test_an_impure_cluster_gets_a_qualifier_like_the_talks(wn):
    names = ["dog.n.01", "house_cat.n.01", "car.n.01", "truck.n.01"]
    mixed, truck = name_clusters(np.array([0, 0, 0, 1]), tree_of(wn, names), names)
    # dog, cat and car: "whole" covers them (and the truck): F1 = 2*3/(3+4); carnivore 2*2/(3+2)
    assert mixed["name"] == "Whole" and mixed["f1"] == pytest.approx(6 / 7)
    assert mixed["label"] == "Whole (carnivore)" and mixed["qualifier"] == "carnivore.n.01"
    assert (mixed["n_covered"], mixed["n_classes"], mixed["n_under"]) == (3, 3, 4)
    assert truck["label"] == "Truck" and truck["f1"] == 1.0


@needs_debian_wordnet
def test_fashion_mnist_groups_get_their_wordnet_names(wn):
    names = [
        "jersey.n.03",
        "trouser.n.01",
        "pullover.n.01",
        "dress.n.01",
        "coat.n.01",
        "sandal.n.01",
        "shirt.n.01",
        "gym_shoe.n.01",
        "bag.n.04",
        "boot.n.01",
    ]
    labels = np.array([0, 0, 0, 0, 0, 1, 0, 1, 2, 1])
    clusters = name_clusters(labels, tree_of(wn, names), names)
    assert [c["name"] for c in clusters] == ["Clothing", "Footwear", "Bag"]
    assert [c["f1"] for c in clusters] == [1.0, 1.0, 1.0]
    assert clusters[0]["equivalent"] == ["Commodity", "Consumer goods"]
