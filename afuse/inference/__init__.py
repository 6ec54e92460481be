"""Using what was trained: rebuild a run's model, score it, label new text (evaluate, predict).

rebuild.py      a finished run (any kind) or an AdapterHub adapter + head -> the exact model
batching.py     length-sorted, dynamically padded inference in inference_mode, with a progress bar
scores.py       accuracy, per-class precision / recall / F1, confusion matrix, majority rate
rawfile.py      a user's file (the task's raw format or a described layout) -> schema rows
submission.py   the GLUE / SuperGLUE submission files
outputs.py      what evaluate and predict write (eval/<name>/, predict/<name>/) and the rows they score
output_owner.py whose outputs such a folder holds (source.json): a command never replaces another's
"""
