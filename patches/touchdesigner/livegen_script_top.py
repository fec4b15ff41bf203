"""livegen -> TouchDesigner: the Callbacks DAT of the Script TOP named livegen_frame.

It copies the newest frame that livegen_ws_callbacks decoded. Change "livegen_ws_callbacks"
if you named that DAT otherwise.
"""


def onSetupParameters(scriptOp):
    """No custom parameters."""


def onCook(scriptOp):
    """Copy the newest decoded frame in."""
    op("livegen_ws_callbacks").module.cook_script_top(scriptOp)  # noqa: F821 - TouchDesigner
