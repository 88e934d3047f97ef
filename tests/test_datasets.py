"""The dataset tests live in tests/datasets/ (one module per glassnet.datasets module). The
helpers that write small files in the real formats are re-exported here, where other tests
(the examples, the benchmark scripts) import them from."""

from tests.datasets.formats import cifar_records, idx_bytes, write, write_cifar, write_mnist

__all__ = ["cifar_records", "idx_bytes", "write", "write_cifar", "write_mnist"]
