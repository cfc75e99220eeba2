"""Domain errors; main.py renders them as HTTP responses."""


class ItemNotFound(Exception):
    def __init__(self, item_id: int) -> None:
        super().__init__(f"Item {item_id} does not exist")
        self.item_id = item_id
