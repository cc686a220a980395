import pytest

from prunelab.kvalues import check_k_list, format_k, parse_k


@pytest.mark.parametrize("k, label", [(0, "0.0000"), (0.5, "0.5000"), (0.97, "0.9700"),
                                      (1, "1.0000"), (0.1234, "0.1234")])
def test_format_k_fixed_point(k, label):
    assert format_k(k) == label


@pytest.mark.parametrize("k", [0, 0.25, 0.6, 0.7, 0.99, 0.9999, 1.0, 0.1])
def test_format_k_round_trips(k):
    assert parse_k(format_k(k)) == k


def test_format_k_rejects_five_decimals():
    with pytest.raises(ValueError, match="more than 4 decimals"):
        format_k(0.12345)


def test_format_k_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"in \[0, 1\], received 1.5"):
        format_k(1.5)


def test_format_k_rejects_bool():
    with pytest.raises(TypeError, match="type bool"):
        format_k(True)


def test_parse_k_rejects_non_canonical():
    with pytest.raises(ValueError, match="not canonical"):
        parse_k("0.5")


def test_check_k_list_rejects_same_name():
    with pytest.raises(ValueError, match="same file name k0.5000"):
        check_k_list([0.5, 0.50])


def test_check_k_list_rejects_int_and_float_alias():
    with pytest.raises(ValueError, match="same file name k1.0000"):
        check_k_list([1, 1.0])


def test_check_k_list_rejects_empty():
    with pytest.raises(ValueError, match="non-empty list"):
        check_k_list([])


def test_check_k_list_names_bad_value():
    with pytest.raises(ValueError, match="invalid value in k_values: .*'x'"):
        check_k_list([0.5, "x"])


def test_check_k_list_keeps_order():
    assert check_k_list([0.9, 0, 0.5]) == [0.9, 0.0, 0.5]
