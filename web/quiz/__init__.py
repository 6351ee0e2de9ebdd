"""Problem sets and practice: the graded quiz pages (`views`), practice mode (`practice`), the
answer form (`forms`), variants and attempts (`store`) and a student's standing (`progress`)."""
