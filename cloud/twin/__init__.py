"""Cloud side of the compressed-air digital twin.

Module map:
  train     fit both model layouts, keep the better (by a given score, else holdout error), write the artifact
  evaluate  the reference's offline grid ("simulate") and evaluation against the plant's oracle
  plot      pictures: energy curves per configuration with the recommendation
  progress  progress display on stderr for long operations
  cli       the `edgeloop twin` command group
"""
