"""The tiny Mocanu grid used by the CLI tests (format with root= and strategies=)."""

TINY = """
name: tiny_mocanu
task: mocanu
dataset: {{name: ravdess, root: {root}}}
features: {{name: spec257}}
protocol: {{name: mocanu_actor10, folds: 3, params: {{folds: 3}}}}
model:
  overrides: {{clusters: 2, ghost_clusters: 1, widths: [4, 4, 8, 8], blocks: [1, 1, 1, 1], descriptor_dim: 8, embedding_dim: 8}}
loss: {{alpha: 0.1, beta: 0.15}}
train:
  epochs: 1
  steps_per_epoch: 2
  batch_size: 8
  crop_frames: 40
  svm_max_train: 20
  pretrain: {{epochs: 1, workers: 1, batch_size: 8, crop_frames: 40, steps_per_epoch: 2}}
grid:
  train.strategy: {strategies}
quick:
  folds: [0]
report:
  series: train.strategy
  per_config: true
  paper:
    - {{where: {{train.strategy: S1}}, wa: 67.94, min: 63.95, max: 70.48, std: 2.33, source: "Table 2"}}
"""
