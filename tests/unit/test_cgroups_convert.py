"""Pure conversions: formulas and special values, no filesystem."""
import pytest

from pyrunc.cgroups import convert as c


@pytest.mark.parametrize("shares,weight", [(0, 0), (2, 1), (1024, 100), (262144, 10000), (300000, 10000), (512, 59)])
def test_shares_to_weight(shares, weight):
    assert c.shares_to_weight(shares) == weight


def test_shares_to_weight_is_monotonic_and_in_range():
    prev = 0
    for s in range(2, 262145, 97):
        w = c.shares_to_weight(s)
        assert 1 <= w <= 10000 and w >= prev
        prev = w


def test_linear_formula_of_older_tools():
    assert c.shares_to_weight_linear(512) == 20  # what runc 1.1.5 writes on v2
    assert c.shares_to_weight_linear(1024) == 39


@pytest.mark.parametrize("w,io", [(0, 0), (10, 1), (1000, 10000), (500, 1 + 490 * 9999 // 990)])
def test_blkio_weight(w, io):
    assert c.blkio_weight_to_io_weight(w) == io


@pytest.mark.parametrize("q,p,out", [(50000, 100000, "50000 100000"), (-1, 100000, "max 100000"),
                                     (0, 0, "max 100000"), (None, 20000, "max 20000")])
def test_cpu_max(q, p, out):
    assert c.cpu_max(q, p) == out


@pytest.mark.parametrize("limit,swap,out", [
    (100, None, None), (100, -1, "max"), (-1, 0, "max"), (100, 100, "0"), (100, 300, "200")])
def test_v2_swap(limit, swap, out):
    assert c.v2_swap_max(limit, swap) == out


@pytest.mark.parametrize("limit,swap", [(None, 100), (200, 100)])
def test_v2_swap_errors(limit, swap):
    with pytest.raises(ValueError):
        c.v2_swap_max(limit, swap)


@pytest.mark.parametrize("limit,out", [(None, None), (-1, "max"), (0, "1"), (42, "42")])
def test_pids(limit, out):
    assert c.pids_max(limit) == out


def test_io_max_lines():
    b = {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
         "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}]}
    assert c.io_max_lines(b) == ["8:0 rbps=1048576", "8:16 wiops=max"]


def test_hugetlb_size():
    assert c.hugetlb_size("2MB") == "2MB"
    with pytest.raises(ValueError):
        c.hugetlb_size("2M")


def test_rdma_and_ifpriomap():
    assert c.rdma_line("mlx5_1", {"hcaHandles": 3, "hcaObjects": 10000}) == "mlx5_1 hca_handle=3 hca_object=10000"
    assert c.rdma_line("mlx4_0", {"hcaObjects": 5}) == "mlx4_0 hca_object=5"
    assert c.ifpriomap_lines([{"name": "eth0", "priority": 5}]) == ["eth0 5"]


@pytest.mark.parametrize("text,n", [("512m", 512 << 20), ("1g", 1 << 30), ("1GiB", 1 << 30), ("100", 100),
                                    ("-1", -1), ("64k", 65536), ("2kb", 2048), ("1.5m", 1572864)])
def test_parse_bytes(text, n):
    assert c.parse_bytes(text) == n


def test_parse_bytes_bad():
    with pytest.raises(ValueError):
        c.parse_bytes("lots")
