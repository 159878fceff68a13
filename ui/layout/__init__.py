"""The page's components, one builder per part of the page (header, and a tab each for the
chat, the articles and the settings). A builder creates its components inside the gr.Blocks
being built and returns their handles in a frozen dataclass; ui.events wires them."""
