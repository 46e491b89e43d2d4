# Страницы администратора, по-русски. Каждый ключ должен быть и в ../en/admin.ftl (это проверяет тест).
# `admin-title` — в shop.ftl (его же показывает ссылка в шапке).

admin-nav-label = Разделы управления
admin-nav-home = Обзор
admin-nav-products = Товары
admin-nav-templates = Шаблоны
admin-nav-categories = Категории
admin-nav-orders = Заказы
admin-nav-users = Пользователи
admin-nav-stats = Продажи
admin-home-products = Поиск, добавление и правка товаров; остатки, изображения, снятие с продажи.
admin-home-templates = Шаблоны характеристик: JSON Schema, которой должны следовать характеристики товара.
admin-home-categories = Категории магазина.
admin-home-orders = Все заказы по статусу, покупателю и датам; отмена оформленных.
admin-home-users = Роли, доступ и премиум-тариф.
admin-home-stats = Заказы, выручка, лидеры продаж и заканчивающиеся товары.

admin-save = Сохранить
admin-keep = Нет, вернуться
admin-delete = Удалить
admin-delete-confirm = Да, удалить
admin-choose = Выберите…
admin-required = обязательно
admin-active = Активен
admin-inactive = Не активен
admin-form-invalid = Некоторые поля нужно исправить: смотрите сообщения рядом с ними.
admin-refused = Сервис отказал:
admin-filter-from = С
admin-filter-to = По

admin-col-product = Товар
admin-col-sku = Артикул
admin-col-price = Цена
admin-col-stock = Остаток
admin-col-status = Статус
admin-col-categories = Категории
admin-col-actions = Действия
admin-col-fields = Поля
admin-col-products = Товары
admin-col-order = Заказ
admin-col-date = Дата
admin-col-customer = Покупатель
admin-col-items = Позиции
admin-col-total = Сумма
admin-col-email = Эл. почта
admin-col-registered = Зарегистрирован
admin-col-quantity = Количество

admin-field-sku = Артикул
admin-field-sku-hint = От 1 до 64 латинских букв, цифр, точек, дефисов или подчёркиваний; не повторяется.
admin-field-name = Название
admin-field-description = Описание
admin-field-price = Цена
admin-field-price-hint = Например, 24990 или 24 990,50.
admin-field-stock = Начальный остаток
admin-field-active = Активен (продаётся в магазине)
admin-field-categories = Категории
admin-field-template = Шаблон
admin-field-template-hint = Его поля показаны ниже. Выбрав другой шаблон, нажмите кнопку сохранения: форма сначала покажет новые поля и пока ничего не сохранит.
admin-field-images = Изображения
admin-field-images-hint = По одному адресу изображения (https://…) в строке, главное — первым; не больше 20.
admin-field-slug = Код
admin-field-slug-hint = Строчные латинские буквы и цифры, слова через дефис, например home-kitchen.
admin-field-schema = JSON Schema
admin-field-schema-hint = Объект JSON: «properties» становятся полями формы товара («title» — подпись, «x-unit» — единица, «enum» — список для выбора); «required» перечисляет обязательные.
admin-field-role = Роль
admin-field-plan = Тариф
admin-field-user-active = Учётная запись активна
admin-field-user-active-hint = Отключение завершает все сеансы пользователя и запрещает вход.
admin-field-extend = Добавить дней премиума
admin-field-extend-hint = От 1 до 3650 дней, с сегодняшнего дня или с конца текущего премиума. Добавляя дни, не меняйте тариф.

admin-rule-empty = Это поле не может быть пустым.
admin-rule-required = Заполните это поле: его требует шаблон.
admin-rule-max-chars = { $count ->
    [one] Не больше { $count } символа.
    [few] Не больше { $count } символов.
   *[many] Не больше { $count } символов.
}
admin-rule-control = Только печатные символы, пожалуйста.
admin-rule-sku = От 1 до 64 латинских букв, цифр, точек, дефисов или подчёркиваний, начиная с буквы или цифры.
admin-rule-sku-taken = Такой артикул уже есть у другого товара.
admin-rule-slug = Строчные латинские буквы и цифры, слова через один дефис.
admin-rule-slug-taken = Такой код уже есть у другой категории.
admin-rule-template-name-taken = Шаблон с таким названием уже есть.
admin-rule-price = Введите цену, например 24990 или 24 990,50.
admin-rule-price-decimals = Не больше двух знаков после запятой.
admin-rule-price-max = Слишком большая цена.
admin-rule-negative = Значение не может быть отрицательным.
admin-rule-whole-number = Введите целое число.
admin-rule-image = Строка { $count }: магазин не принимает такой адрес изображения (нужен http или https, без пароля).
admin-rule-unknown-category = Этой категории больше нет. Обновите страницу.
admin-rule-no-template = Этого шаблона больше нет. Обновите страницу.
admin-rule-schema = Каталог не принимает это как JSON Schema:
admin-rule-date = Введите дату, например 2026-11-23.
admin-rule-threshold = Введите целое число от 0.
admin-rule-delta = Введите целое число, не 0: положительное — добавить, отрицательное — списать.
admin-rule-choose = Выберите один из вариантов.
admin-rule-extend-days = Введите число дней от 1 до 3650.
admin-rule-extend-with-plan = Добавляйте дни, не меняя тариф (или меняйте тариф, не добавляя дней).
admin-schema-not-json = Это не JSON
admin-schema-line = строка { $count }
admin-schema-column = позиция { $count }

admin-products-title = Товары
admin-products-back = ← Все товары
admin-products-search = Поиск по названию, описанию или артикулу
admin-products-low = Только заканчивающиеся
admin-products-threshold = Остаток не больше
admin-products-low-truncated = Проверены только первые 1000 товаров: уточните поиск, чтобы увидеть остальные.
admin-products-none = Таких товаров нет.
admin-products-found = { $count ->
    [one] { $count } товар
    [few] { $count } товара
   *[many] { $count } товаров
}
admin-product-new = Новый товар
admin-product-create = Создать товар
admin-product-details = Основное
admin-product-version = версия { $count }
admin-product-in-shop = посмотреть в магазине
admin-product-conflict = Пока форма была открыта, товар изменил кто-то другой, поэтому ваши изменения не сохранены. Откройте текущую версию и внесите их снова.
admin-product-reload = Открыть текущую версию
admin-product-template-fields = Шаблон изменён: заполните его поля и сохраните. Пока ничего не сохранено.
admin-product-deactivate = Снять с продажи
admin-product-deactivate-question = Снять этот товар с продажи? Он пропадёт из магазина, но останется в заказах. Вернуть его можно в форме товара.
admin-product-deactivate-confirm = Да, снять с продажи
admin-product-inactive-hint = Этот товар не продаётся: отметьте «Активен» в форме выше и сохраните, чтобы вернуть его в продажу.
admin-template-none = Без шаблона
admin-attributes-of = Характеристики по шаблону
admin-attributes-none = В этом шаблоне нет полей.
admin-stock = Остаток
admin-stock-now = { $count ->
    [one] Сейчас можно продать { $count } штуку (без зарезервированных).
    [few] Сейчас можно продать { $count } штуки (без зарезервированных).
   *[many] Сейчас можно продать { $count } штук (без зарезервированных).
}
admin-stock-delta = Изменить на
admin-stock-delta-hint = Положительное число — добавить, отрицательное — списать (например, -3).
admin-stock-apply = Изменить остаток
admin-stock-out-of-range = { $count ->
    [one] Остаток не может стать меньше нуля: сейчас { $count } штука.
    [few] Остаток не может стать меньше нуля: сейчас { $count } штуки.
   *[many] Остаток не может стать меньше нуля: сейчас { $count } штук.
}
admin-images-list = Адреса изображений
admin-images-save = Сохранить изображения
admin-image-alt = Изображение { $count }

admin-templates-title = Шаблоны
admin-templates-back = ← Все шаблоны
admin-templates-none = Шаблонов пока нет.
admin-template-new = Новый шаблон
admin-template-edit = Правка шаблона
admin-template-create = Создать шаблон
admin-template-use = Новый товар по нему
admin-template-preview = Поля формы товара
admin-template-delete = Удалить шаблон
admin-template-delete-question = Удалить этот шаблон? Удалить можно только шаблон, которым не пользуется ни один товар.
admin-template-in-use = Этим шаблоном ещё пользуются товары: сначала переведите их на другой шаблон (или без шаблона).
admin-kind-text = текст
admin-kind-integer = целое число
admin-kind-number = число
admin-kind-boolean = да или нет
admin-kind-choice = выбор из списка

admin-categories-title = Категории
admin-categories-back = ← Все категории
admin-categories-none = Категорий пока нет.
admin-category-new = Новая категория
admin-category-edit = Правка категории
admin-category-create = Создать категорию
admin-category-delete = Удалить категорию
admin-category-delete-question = { $count ->
    [one] Удалить эту категорию? Её { $count } товар останется в магазине, но без неё.
    [few] Удалить эту категорию? Её { $count } товара останутся в магазине, но без неё.
   *[many] Удалить эту категорию? Её { $count } товаров останутся в магазине, но без неё.
}
admin-category-products = { $count ->
    [one] { $count } активный товар
    [few] { $count } активных товара
   *[many] { $count } активных товаров
}

admin-orders-title = Заказы
admin-orders-all = Все
admin-orders-user = Покупатель (эл. почта или id)
admin-orders-user-unknown = Покупателя с такой почтой нет.
admin-orders-user-ambiguous = Подходит несколько покупателей: введите почту полностью.
admin-orders-none = Таких заказов нет.
admin-orders-found = { $count ->
    [one] { $count } заказ
    [few] { $count } заказа
   *[many] { $count } заказов
}
admin-order-cancel = Отменить
admin-order-cancel-question = Отменить этот заказ? Его товары вернутся в продажу.
admin-order-cancel-confirm = Да, отменить заказ

admin-users-title = Пользователи
admin-users-back = ← Все пользователи
admin-users-search = Поиск по эл. почте
admin-users-none = Таких пользователей нет.
admin-users-found = { $count ->
    [one] { $count } пользователь
    [few] { $count } пользователя
   *[many] { $count } пользователей
}
admin-role-customer = Покупатель
admin-role-admin = Администратор
admin-user-access = Доступ и тариф
admin-user-orders = Заказы этого пользователя
admin-user-myself = Это ваша учётная запись: вы не можете снять с себя роль администратора или отключить себя.
admin-user-self-lockout = Нельзя понизить или отключить самого себя. Попросите другого администратора.

admin-stats-title = Продажи
admin-stats-threshold = Заканчиваются: остаток меньше
admin-stats-orders = Заказы
admin-stats-revenue = Выручка
admin-stats-average = Средний чек
admin-stats-period = Период:
admin-stats-placed-only = Только оформленные заказы; отменённые не считаются продажами.
admin-stats-daily = Последние 7 дней
admin-stats-daily-chart = Выручка по дням за последние 7 дней (цифры — в таблице ниже)
admin-stats-daily-table = Заказы и выручка по дням
admin-stats-orders-count = { $count ->
    [one] { $count } заказ
    [few] { $count } заказа
   *[many] { $count } заказов
}
admin-stats-top-quantity = Лидеры продаж по количеству
admin-stats-top-revenue = Лидеры продаж по выручке
admin-stats-units = { $count ->
    [one] { $count } штука
    [few] { $count } штуки
   *[many] { $count } штук
}
admin-stats-no-sales = За этот период продаж нет.
admin-stats-low-stock = Заканчиваются
admin-stats-low-stock-none = Нет активных товаров с остатком ниже порога.
admin-stats-low-stock-unavailable = Каталог не ответил: список заканчивающихся товаров сейчас недоступен.

notice-admin-product-created = Товар создан.
notice-admin-product-saved = Товар сохранён.
notice-admin-product-deactivated = Товар снят с продажи.
notice-admin-images-saved = Изображения сохранены.
notice-admin-stock-adjusted = Остаток изменён.
notice-admin-template-created = Шаблон создан.
notice-admin-template-saved = Шаблон сохранён. Товары будут проверены по нему при следующем сохранении.
notice-admin-template-deleted = Шаблон удалён.
notice-admin-category-created = Категория создана.
notice-admin-category-saved = Категория сохранена.
notice-admin-category-deleted = Категория удалена.
notice-admin-order-canceled = Заказ отменён; его товары снова в продаже.
notice-admin-order-not-cancelable = Этот заказ нельзя отменить: отменить можно только оформленный.
notice-admin-user-saved = Пользователь сохранён.
