"""In-app notifications (the bell, the list) and each person's choice of channel per kind of notice."""
