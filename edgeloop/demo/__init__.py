"""The whole loop on one machine (`edgeloop demo`).

  cli        the `edgeloop demo` command: options, run, print the summary
  runner     Demo: the cloud broker, the local core, the registry and promoter; runs both scenarios
  plant      PlantScenario: the plant, twin v1 and v2, recommendations and the live energy
  wearables  WearableScenario: the wearables, ECG v1 and v2, alerts, the archive and its review
  render     the summary as text
"""
