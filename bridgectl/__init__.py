"""bridgectl: the bridge's command line for developers and operators. Never deployed.

It imports `shared` (the deployed bridge) and the simulator; `shared` never imports it.

    python -m bridgectl simulate samples/          # the real pipeline, no Azure account needed
    python -m bridgectl external-id crm-eu BK-10023
    python -m bridgectl send | results | dlq ...   # the real queues, or the local emulator
    python -m bridgectl.schemas                    # regenerate schemas/ after changing a model
"""
