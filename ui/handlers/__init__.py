"""The page's event handlers, one class per part of the page, each bound to one Assistant.
Per-browser state (the turns of the conversation, the open citation, feedback ids) lives in
gr.State and comes in as arguments; everything shown goes through the pure functions of
ui.render. ui.events connects them to the components that ui.layout builds."""
