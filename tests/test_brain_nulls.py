"""Permutation nulls of the brain region rankings: the same numbers as the interpretation for
the real labels, vectorised statistics equal to SciPy's, uniform p-values under the null."""

import numpy as np
import pytest
import torch
from scipy import stats as sps

from cnnpractice import stats
from cnnpractice.brain import nulls
from cnnpractice.brain.interpret import dbms, maps_to_volume, rank_regions
from cnnpractice.brain.interpret_run import class_models


def pixel_regions(shape, n_regions=4, seed=0):
    """Labels 1..n over the flattened pixels of ``shape`` (a few voxels unlabelled)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, n_regions + 1, size=int(np.prod(shape)))
    labels[:3] = 0
    return labels


def identity_operator(p, s):
    """A ``plane_operator`` stand-in where every map pixel is one voxel."""
    weights = np.full((p, s, s), 1.0 / (p * s * s))
    return (lambda maps: np.asarray(maps, np.float32).reshape(*maps.shape[:-3], -1)), weights


def test_region_index_means_and_minimum_size():
    labels = np.array([0, 2, 2, 5, 5, 5, 7])
    index = nulls.RegionIndex(labels, {2: "two", 5: "five", 7: "seven"}, min_voxels=2)
    values = np.array([[9.0, 1, 3, 2, 4, 6, 100], [0, 0, 0, 1, 1, 1, 0]])
    assert index.names == ["two", "five"]
    assert np.allclose(index.means(values), [[2.0, 4.0], [0.0, 1.0]])


def test_tmap_null_of_the_real_labels_is_scipys_t():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(14, 40)).astype(np.float32)
    y[7:, :10] += 1.5
    labels = np.arange(14) >= 7
    regions = nulls.RegionIndex(np.repeat([1, 2, 3, 4], 10), {})
    res = nulls.tmap_null(y, labels, labels[None], regions)
    t = sps.ttest_ind(y[labels], y[~labels], axis=0).statistic
    assert np.allclose(res["t"], t)
    assert np.allclose(res["null"][0], res["observed"], rtol=1e-4)
    assert np.allclose(res["observed"], [np.abs(t[i : i + 10]).mean() for i in range(0, 40, 10)], rtol=1e-5)


def test_pooled_scale_is_the_weighted_within_class_variance():
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(9, 2, 3, 4, 4)).astype(np.float32)
    weights = rng.uniform(size=(3, 4, 4))
    members = rng.permutation(np.arange(9) < 4)[None]
    scale = nulls.PooledScale(maps, weights)(members)
    for f in range(2):
        x = maps[:, f].reshape(9, -1).astype(np.float64)
        a, b = x[members[0]], x[~members[0]]
        within = ((a - a.mean(0)) ** 2).sum(0) + ((b - b.mean(0)) ** 2).sum(0)
        assert scale[0, f] == pytest.approx(np.sqrt((weights.ravel() * within).sum() / 7), rel=1e-6)


def test_cnn_null_reproduces_the_interpretation_for_the_real_labels():
    """Observed region scores and brain dBMS equal :mod:`.interpret`'s (dBMS, rank_regions)."""
    from cnnpractice.models.brain import BrainCNN

    torch.manual_seed(0)
    net = BrainCNN(first_filters=3, first_kernel=3, widths=[4], input_size=8).eval()
    template_shape, axis = (9, 10, 7), 0
    plane_shape = (10, 7)
    positions = np.array([2, 4, 6])
    rng = np.random.default_rng(3)
    m = 8
    x = rng.integers(0, 255, size=(m * positions.size, 1, 8, 8)).astype(np.uint8)
    meta = {
        "subject_index": np.repeat(np.arange(m), positions.size),
        "position": np.tile(positions, m),
        "subjects": np.array([f"s{i}" for i in range(m)]),
    }
    labels = np.arange(m) % 2 == 1
    mask = np.ones(template_shape, bool)
    mask[0] = False
    atlas = np.where(mask, rng.integers(0, 4, size=template_shape), 0)
    names = {1: "a", 2: "b", 3: "c"}
    rows = np.arange(len(x))
    grid_args = (axis, plane_shape, template_shape)
    means, _, grid, scale = class_models(
        net, x, rows, labels[meta["subject_index"]].astype(int), meta["position"], grid_args, mask,
        mean=100.0, std=50.0, batch_size=7, device="cpu",
    )  # fmt: skip
    diff = maps_to_volume(means[1], grid, *grid_args) - maps_to_volume(means[0], grid, *grid_args)
    reference = dbms(diff, mask, scale)
    voxels, to_volume, weights = nulls.plane_operator(positions, axis, plane_shape, template_shape, mask, 8)
    regions = nulls.RegionIndex(atlas.ravel()[voxels], names, min_voxels=1)
    for f in range(3):
        maps, _ = nulls.subject_maps(net, x, meta, mean=100.0, std=50.0, filters=[f], batch_size=5)
        res = nulls.cnn_null(maps, labels, labels[None], to_volume, weights, regions)
        assert res["brain"] == pytest.approx(reference[f], rel=1e-5)
        ranked = {r["region"]: r["dbms"] for r in rank_regions(diff[f], atlas, names, scale[f], min_voxels=1)}
        assert np.allclose(res["observed"], [ranked[n] for n in regions.names], rtol=1e-5)
        assert np.allclose(res["null"][0], res["observed"], rtol=1e-5)


def test_plane_operator_matches_maps_to_volume():
    rng = np.random.default_rng(4)
    positions, plane_shape, template_shape = np.array([1, 3]), (9, 6), (5, 9, 6)
    mask = rng.uniform(size=template_shape) > 0.3
    voxels, to_volume, weights = nulls.plane_operator(positions, 0, plane_shape, template_shape, mask, 4)
    maps = rng.normal(size=(3, 2, 4, 4)).astype(np.float32)
    full = maps_to_volume(maps, positions, 0, plane_shape, template_shape)
    assert np.allclose(to_volume(maps), full.reshape(3, -1)[:, voxels], atol=1e-6)
    # the weights turn a pixel map into the mean of its interpolation over the covered voxels
    assert weights.sum() == pytest.approx(1.0)
    assert (weights * maps[0]).sum() == pytest.approx(to_volume(maps[:1])[0].mean(), rel=1e-5)


def null_pvalues(kind, effect, datasets, perms=99, m=12, seed=0):
    """Region-1 p-values of many small cohorts (half of each class), ``effect`` added to
    class 1 in region 1."""
    p_values = []
    labels = np.arange(m) % 2 == 1
    p, s = 2, 3
    to_volume, weights = identity_operator(p, s)
    regions = nulls.RegionIndex(np.repeat([1, 2], p * s * s // 2), {}, min_voxels=1)
    for d in range(datasets):
        rng = np.random.default_rng([seed, d])
        data = rng.normal(size=(m, 1, p, s, s)).astype(np.float32)
        data[labels, 0, 0] += effect  # region 1 = the first plane
        members = nulls.permutations(labels, perms, seed=d)
        if kind == "tmap":
            res = nulls.tmap_null(data.reshape(m, -1), labels, members, regions)
        else:
            res = nulls.cnn_null(data, labels, members, to_volume, weights, regions)
        p_values.append(stats.empirical_p(res["observed"][0], res["null"][:, 0]))
    return np.array(p_values)


@pytest.mark.parametrize("kind", ["tmap", "cnn"])
def test_permutation_pvalues_are_uniform_under_the_null(kind):
    p = null_pvalues(kind, effect=0.0, datasets=300)
    assert 0.02 <= (p <= 0.05).mean() <= 0.09
    assert 0.4 <= (p <= 0.5).mean() <= 0.6
    assert sps.kstest(p, "uniform").pvalue > 0.01


@pytest.mark.parametrize("kind", ["tmap", "cnn"])
def test_permutation_pvalues_find_a_real_effect(kind):
    p = null_pvalues(kind, effect=1.5, datasets=30)
    assert np.median(p) <= 0.02


def test_permutations_keep_class_sizes_and_are_seeded():
    labels = np.array([1, 0, 0, 1, 1, 0, 0])
    a, b = nulls.permutations(labels, 50, 3), nulls.permutations(labels, 50, 3)
    assert np.array_equal(a, b) and (a.sum(1) == 3).all() and len({r.tobytes() for r in a}) > 20


def test_untrained_copy_is_seeded_and_leaves_the_network_alone():
    from cnnpractice.models.brain import BrainCNN

    net = BrainCNN(first_filters=3, first_kernel=3, widths=[4], input_size=8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a, b = nulls.untrained_copy(net, 5), nulls.untrained_copy(net, 5)
    assert torch.equal(a.conv1.weight, b.conv1.weight) and not torch.equal(a.conv1.weight, net.conv1.weight)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
