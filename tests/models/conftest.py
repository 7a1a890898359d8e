import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # shared 2-core machine: keep every test single-threaded
    torch.set_num_threads(1)
    yield
