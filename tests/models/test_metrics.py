import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from ser_models import metrics as M


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracies_and_confusion_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 5, 60)
    y_true[y_true == 4] = 3  # class 4 absent from y_true
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 5, 60))
    assert M.weighted_accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
    assert M.unweighted_accuracy(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(M.confusion(y_true, y_pred, 6), confusion_matrix(y_true, y_pred, labels=range(6)))


def deg(u, v):
    return np.degrees(np.arccos(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))))


# class 0: (1,0), (1,1) -> centroid at 22.5 deg; class 1: (0,2), (-1,1) -> centroid at 112.5 deg
EMB = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0], [-1.0, 1.0]])
Y = np.array([0, 0, 1, 1])


def test_centroids_are_normalised_means_of_unit_vectors():
    c = M.class_centroids(EMB, Y, 3)
    r = np.radians
    np.testing.assert_allclose(c[0], [np.cos(r(22.5)), np.sin(r(22.5))], atol=1e-12)
    np.testing.assert_allclose(c[1], [np.cos(r(112.5)), np.sin(r(112.5))], atol=1e-12)
    assert np.isnan(c[2]).all()  # absent class


def test_nearest_angle_predict():
    c = M.class_centroids(EMB, Y, 3)
    test = np.array([[3.0, 0.5], [-0.2, 1.0], [0.0, -1.0], [1.0, 1.2]])
    expected = [int(np.argmin([deg(t, c[0]), deg(t, c[1])])) for t in test]
    np.testing.assert_array_equal(M.nearest_angle_predict(test, c), expected)


def test_angle_table_against_arccos():
    c = M.class_centroids(EMB, Y, 2)
    table = M.angle_table(c, EMB, Y)
    assert table[0, 1] == pytest.approx(deg(c[0], c[1])) == pytest.approx(90.0)
    np.testing.assert_allclose(table, table.T)
    assert table[0, 0] == pytest.approx(np.mean([deg(EMB[0], c[0]), deg(EMB[1], c[0])])) == pytest.approx(22.5)
    assert table[1, 1] == pytest.approx(np.mean([deg(EMB[2], c[1]), deg(EMB[3], c[1])]))
    np.testing.assert_array_equal(np.diag(M.angle_table(c)), [0.0, 0.0])


def test_angle_std_against_arccos():
    emb = np.array([[1.0, 0.0], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0], [-0.5, 1.0], [0.2, 1.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    c = M.class_centroids(emb, y, 2)
    intra, inter = M.angle_std(emb, y, c)
    for k in (0, 1):
        own = [deg(e, c[k]) for e in emb[y == k]]
        other = [deg(e, c[1 - k]) for e in emb[y == k]]
        assert intra[k] == pytest.approx(np.std(own))
        assert inter[k] == pytest.approx(np.std(other))


def test_length_mismatch():
    with pytest.raises(ValueError):
        M.weighted_accuracy([0, 1], [0])
